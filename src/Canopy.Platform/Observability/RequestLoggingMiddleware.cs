using System.Diagnostics;
using Canopy.Platform.Problems;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Canopy.Platform.Observability;

/// <summary>
/// One log line per request: method, route template (never the raw path or query, which can
/// carry ids and secrets), status, duration and the problem type if any; also counts problems.
/// </summary>
public sealed partial class RequestLoggingMiddleware(RequestDelegate next, ILogger<RequestLoggingMiddleware> logger, CanopyMetrics metrics)
{
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            // After an exception the handler clears the endpoint; its feature keeps the original.
            var endpoint = context.GetEndpoint() ?? context.Features.Get<IExceptionHandlerFeature>()?.Endpoint;
            var route = (endpoint as RouteEndpoint)?.RoutePattern.RawText is { } raw ? "/" + raw.TrimStart('/') : "(unmatched)";
            var status = context.Response.StatusCode;
            var problem = context.Items.TryGetValue(ProblemFactory.ProblemTypeItem, out var slug) ? slug as string : null;
            if (problem is not null)
            {
                metrics.Problem(problem, status);
            }

            if (logger.IsEnabled(LogLevel.Information))
            {
                LogRequest(logger, context.Request.Method, route, status, Math.Round(elapsed, 2), problem ?? "");
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "HTTP {http_method} {http_route} responded {http_status} in {duration_ms} ms {problem_type}")]
    private static partial void LogRequest(ILogger logger, string http_method, string http_route, int http_status, double duration_ms, string problem_type);
}
