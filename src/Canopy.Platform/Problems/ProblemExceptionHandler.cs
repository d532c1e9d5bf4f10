using Canopy.Platform.Observability;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace Canopy.Platform.Problems;

/// <summary>
/// The one place that maps exceptions to problems. Expected failures (<see cref="ProblemException"/>,
/// a bad request body, a stale version) become their problem; anything else is a 500 problem with
/// the trace id, logged with its stack trace and counted. Nothing internal reaches the response.
/// </summary>
internal sealed partial class ProblemExceptionHandler(
    IProblemDetailsService problems,
    CanopyMetrics metrics,
    ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            return true; // the client went away; there is nobody to answer
        }

        var problem = exception switch
        {
            // A 5XX is a failure of ours whatever raised it: logged with its stack and counted below.
            ProblemException { Type.Status: < 500 } p => Problem(httpContext, p),
            // Except back-pressure: a feature that refuses work it cannot take now answers 503 with Retry-After.
            ProblemException p when p.Type == ProblemTypes.ServiceUnavailable && p.Headers.ContainsKey("Retry-After") => Problem(httpContext, p),
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                ProblemFactory.Create(httpContext, ProblemTypes.PayloadTooLarge, $"The request body is larger than the {MaxBody(httpContext)} bytes this operation accepts."),
            BadHttpRequestException bad =>
                ProblemFactory.Create(httpContext, ProblemTypes.ForStatus(bad.StatusCode), "The request could not be read."),
            DbUpdateConcurrencyException =>
                ProblemFactory.Create(httpContext, ProblemTypes.PreconditionFailed, "The resource was changed by another request while this one was applied."),
            // Nothing was applied: a change that needs Redis (a revocation note) is refused before its commit.
            Exception redisDown when Redis.RedisUnavailableException.Is(redisDown) =>
                Unavailable(httpContext, "Redis, which this operation needs, is not answering."),
            _ => null,
        };

        if (problem?.Status == StatusCodes.Status401Unauthorized && !httpContext.Response.Headers.ContainsKey("WWW-Authenticate"))
        {
            // RFC 9110 §15.5.2: a 401 names the scheme that would be accepted.
            httpContext.Response.Headers.WWWAuthenticate = "Bearer";
        }

        if (problem is null)
        {
            if (logger.IsEnabled(LogLevel.Error))
            {
                LogUnhandled(logger, httpContext.Request.Method, RouteOf(httpContext), exception);
            }

            metrics.UnhandledException("http");
            problem = ProblemFactory.Create(httpContext, ProblemTypes.InternalError);
        }
        else
        {
            if (logger.IsEnabled(LogLevel.Information))
            {
                LogExpected(logger, problem.Status ?? 0, problem.Type ?? "", exception.GetType().Name);
            }
        }

        httpContext.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        try
        {
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                ProblemDetails = problem,
            }).ConfigureAwait(false);
        }
        catch (Exception writing) when (httpContext.RequestAborted.IsCancellationRequested && writing is OperationCanceledException or IOException)
        {
            return true; // the client went away while its answer was written
        }
    }

    private static Microsoft.AspNetCore.Mvc.ProblemDetails Unavailable(HttpContext context, string detail)
    {
        context.Response.Headers.RetryAfter = "5";
        return ProblemFactory.Create(context, ProblemTypes.ServiceUnavailable, detail);
    }

    private static Microsoft.AspNetCore.Mvc.ProblemDetails Problem(HttpContext context, ProblemException exception)
    {
        foreach (var (name, value) in exception.Headers)
        {
            context.Response.Headers[name] = value;
        }

        var problem = ProblemFactory.Create(context, exception.Type, exception.Message, exception.Errors);
        foreach (var (key, value) in exception.Extensions)
        {
            problem.Extensions[key] = value;
        }

        return problem;
    }

    private static string MaxBody(HttpContext context) =>
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize?.ToString(System.Globalization.CultureInfo.InvariantCulture)
        ?? "configured";

    private static string RouteOf(HttpContext context) =>
        (context.GetEndpoint() as Microsoft.AspNetCore.Routing.RouteEndpoint)?.RoutePattern.RawText ?? "(no route)";

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception on {Method} {Route}")]
    private static partial void LogUnhandled(ILogger logger, string method, string route, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Request refused with {Status} {ProblemType} ({ExceptionType})")]
    private static partial void LogExpected(ILogger logger, int status, string problemType, string exceptionType);
}
