using System.Globalization;
using Canopy.Platform.Spec;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Filters;

namespace Canopy.Platform.Policies;

/// <summary>
/// <c>x-cache-ttl: &lt;seconds&gt;</c> on a GET lets the caller keep a successful answer that long
/// (<c>Cache-Control: private, max-age=N</c>); every other answer stays <c>no-store</c>. The
/// server-side view-model cache of the Insights module reads the same value.
/// </summary>
public sealed class CacheTtlFilter(OperationCatalog catalog) : IAsyncResourceFilter
{
    public const string Extension = "x-cache-ttl";
    public const int MaxSeconds = 86_400;

    public async Task OnResourceExecutionAsync(ResourceExecutingContext context, ResourceExecutionDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        if (HttpMethods.IsGet(http.Request.Method)
            && Seconds(catalog.For(context.ActionDescriptor)?.Extensions.GetValueOrDefault(Extension)) is { } ttl)
        {
            // Runs before the security headers' default (no-store), which then leaves it alone.
            http.Response.OnStarting(() =>
            {
                if (http.Response.StatusCode == StatusCodes.Status200OK && string.IsNullOrEmpty(http.Response.Headers.CacheControl))
                {
                    http.Response.Headers.CacheControl = "private, max-age=" + ttl.ToString(CultureInfo.InvariantCulture);
                }

                return Task.CompletedTask;
            });
        }

        await next().ConfigureAwait(false);
    }

    /// <summary>The TTL in seconds, or null when the value is not a whole number from 1 to a day.</summary>
    public static int? Seconds(string? value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 1 and <= MaxSeconds ? seconds : null;
}
