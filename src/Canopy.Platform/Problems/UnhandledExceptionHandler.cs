using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Canopy.Platform.Problems;

/// <summary>
/// The last line of defence: an exception nothing else handled becomes a 500 problem with the
/// trace id. The stack trace goes to the log, never to the response.
/// </summary>
internal sealed partial class UnhandledExceptionHandler(
    IProblemDetailsService problems,
    ILogger<UnhandledExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            return true; // the client went away; there is nobody to answer
        }

        LogUnhandled(logger, httpContext.Request.Method, httpContext.Request.Path.Value ?? "/", exception);
        httpContext.Response.StatusCode = StatusCodes.Status500InternalServerError;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = ProblemFactory.Create(httpContext, ProblemTypes.InternalError),
        }).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception on {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, string method, string path, Exception exception);
}
