using Canopy.Platform.Problems;
using Microsoft.AspNetCore.Http;

namespace Canopy.Platform.Http;

/// <summary>
/// In production Canopy answers only over HTTPS (terminated by Kestrel or by a trusted proxy,
/// whose X-Forwarded-Proto is believed). Plain HTTP is refused rather than redirected, so a
/// client never learns to send its token in clear. Health probes are exempt: orchestrators
/// call them over the pod network.
/// </summary>
public sealed class HttpsOnlyMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.Request.IsHttps && !context.Request.Path.StartsWithSegments("/health", StringComparison.Ordinal))
        {
            throw new ProblemException(ProblemTypes.Forbidden, "Canopy accepts only HTTPS; send the request to the https:// address.");
        }

        return next(context);
    }
}
