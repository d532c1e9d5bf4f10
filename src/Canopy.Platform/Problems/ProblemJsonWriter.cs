using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Canopy.Platform.Problems;

/// <summary>
/// Writes every problem as <c>application/problem+json</c>, whatever the request's Accept
/// header says (the framework's default writer stays silent for non-JSON Accept values and
/// would leave an empty error body).
/// </summary>
internal sealed class ProblemJsonWriter : IProblemDetailsWriter
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        ProblemFactory.Complete(context.ProblemDetails, http);
        http.Response.ContentType = ProblemFactory.MediaType;
        return new ValueTask(JsonSerializer.SerializeAsync(
            http.Response.Body, context.ProblemDetails, Json, http.RequestAborted));
    }
}
