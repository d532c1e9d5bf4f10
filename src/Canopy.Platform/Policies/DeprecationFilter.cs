using System.Globalization;
using Canopy.Platform.Spec;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Filters;

namespace Canopy.Platform.Policies;

/// <summary>
/// A deprecated operation (<c>deprecated: true</c> with <c>x-deprecated-at</c> and <c>x-sunset</c>)
/// keeps answering as before, plus <c>Deprecation: @&lt;unix seconds&gt;</c> (RFC 9745),
/// <c>Sunset: &lt;IMF-fixdate&gt;</c> (RFC 8594) and <c>Link: &lt;…&gt;; rel="deprecation"</c>.
/// </summary>
public sealed class DeprecationFilter(OperationCatalog catalog) : IAsyncResourceFilter
{
    public const string DocumentationUri = "https://canopy.dev/docs/deprecations";

    public async Task OnResourceExecutionAsync(ResourceExecutingContext context, ResourceExecutionDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var operation = catalog.For(context.ActionDescriptor);
        var extensions = operation?.Extensions;
        if (extensions?.GetValueOrDefault("deprecated") == "true"
            && OperationPolicies.Date(extensions.GetValueOrDefault("x-deprecated-at")) is { } deprecatedAt
            && OperationPolicies.Date(extensions.GetValueOrDefault("x-sunset")) is { } sunset)
        {
            var http = context.HttpContext;
            // As the response starts: error answers of a deprecated operation say so too.
            http.Response.OnStarting(() =>
            {
                http.Response.Headers["Deprecation"] = "@" + deprecatedAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                http.Response.Headers["Sunset"] = sunset.UtcDateTime.ToString("R", CultureInfo.InvariantCulture);
                http.Response.Headers.Append("Link", $"<{DocumentationUri}#{operation!.OperationId}>; rel=\"deprecation\"");
                return Task.CompletedTask;
            });
        }

        await next().ConfigureAwait(false);
    }
}
