using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;

namespace Canopy.Platform.Problems;

/// <summary>Builds RFC 9457 problem details with Canopy's members from a <see cref="ProblemType"/>.</summary>
public static class ProblemFactory
{
    public const string MediaType = "application/problem+json";

    public static ProblemDetails Create(HttpContext context, ProblemType type, string? detail = null)
    {
        var problem = new ProblemDetails { Status = type.Status };
        Complete(problem, context, type, detail);
        return problem;
    }

    /// <summary>Fills every member the spec requires, keeping values a handler already set.</summary>
    public static void Complete(ProblemDetails problem, HttpContext context, ProblemType? type = null, string? detail = null)
    {
        type ??= ProblemTypes.ForStatus(problem.Status ?? context.Response.StatusCode);
        problem.Status ??= type.Status;
        problem.Type = type.Uri;
        problem.Title = type.Title;
        problem.Detail = detail ?? problem.Detail ?? type.HumanReadableCause;
        problem.Instance = context.Request.Path.Value ?? "/";
        problem.Extensions["human_readable_cause"] = type.HumanReadableCause;
        problem.Extensions["suggested_action"] = type.SuggestedAction;
        problem.Extensions["trace_id"] = TraceIdOf(context);
        problem.Extensions.Remove("traceId");
    }

    public static ObjectResult Result(HttpContext context, ProblemType type, string? detail = null) =>
        new(Create(context, type, detail))
        {
            StatusCode = type.Status,
            ContentTypes = { MediaType },
        };

    private static string TraceIdOf(HttpContext context) =>
        Activity.Current?.TraceId.ToHexString()
        ?? context.Features.Get<IHttpActivityFeature>()?.Activity.TraceId.ToHexString()
        ?? ActivityTraceId.CreateRandom().ToHexString();
}
