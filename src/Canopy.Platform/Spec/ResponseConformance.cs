using Canopy.Platform.Observability;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Canopy.Platform.Spec;

/// <summary>
/// Section <c>Conformance</c>: whether answers are checked against the spec (on outside
/// Production), and a file to which each undocumented answer is appended (the test command
/// points it into artifacts/ and fails when it is not empty).
/// </summary>
public sealed class ConformanceOptions
{
    public const string Section = "Conformance";

    public bool Enabled { get; set; } = true;

    public string? ReportPath { get; set; }
}

/// <summary>
/// Checks every answer of a spec operation against the statuses and media types the operation
/// documents. An undocumented one is logged as an error, counted
/// (<c>canopy_contract_undocumented_responses</c>) and reported, so the spec cannot
/// silently lie about what the service returns. Sits outside the exception handler, so the
/// problems it writes are checked too.
/// </summary>
public sealed partial class ResponseConformanceMiddleware(
    RequestDelegate next,
    OperationCatalog catalog,
    CanopyMetrics metrics,
    IOptions<ConformanceOptions> options,
    ILogger<ResponseConformanceMiddleware> logger)
{
    /// <summary>Where the routed operation is noted for this middleware (the exception handler clears the endpoint).</summary>
    public const string OperationItem = "canopy.operation-id";

    private static readonly Lock ReportGate = new();

    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        await next(context).ConfigureAwait(false);
        if (!options.Value.Enabled || context.Items[OperationItem] is not string operationId || catalog.Find(operationId) is not { } operation)
        {
            return;
        }

        // A client that went away before any answer started received none to hold against the
        // spec (its status reads 499). A stream the client closed did start: it is checked.
        if (context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
        {
            return;
        }

        var status = context.Response.StatusCode;
        var mediaType = context.Response.ContentType?.Split(';')[0].Trim();
        if (operation.Documents(status, string.IsNullOrEmpty(mediaType) ? null : mediaType))
        {
            return;
        }

        metrics.UndocumentedResponse(operationId, status);
        LogUndocumented(logger, operationId, status, mediaType ?? "(no body)");
        if (options.Value.ReportPath is { Length: > 0 } path)
        {
            lock (ReportGate)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                File.AppendAllText(path, $"{operationId} {context.Request.Method} {context.Request.Path} answered {status} {mediaType ?? "(no body)"}{Environment.NewLine}");
            }
        }
    }

    /// <summary>Notes the routed operation; runs right after routing.</summary>
    public static Task MarkOperation(HttpContext context, RequestDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (context.GetEndpoint()?.Metadata.GetMetadata<IRouteNameMetadata>()?.RouteName is { } name)
        {
            context.Items[OperationItem] = name;
        }

        return next(context);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Operation {OperationId} answered {Status} {MediaType}, which its spec does not document")]
    private static partial void LogUndocumented(ILogger logger, string operationId, int status, string mediaType);
}
