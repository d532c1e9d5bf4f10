using System.Globalization;
using Canopy.Platform.Problems;
using Canopy.Platform.Spec;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace Canopy.Platform.Http;

/// <summary>
/// Applies the body size limit of the operation (<c>x-max-body-bytes</c> in the spec, else the
/// configured default). A declared Content-Length above it is refused at once with 413; a
/// chunked body is cut by the server when it passes the limit (also 413).
/// </summary>
public sealed class OperationBodyLimitMiddleware(RequestDelegate next, OperationCatalog catalog, IOptions<HttpOptions> options)
{
    public Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var operationId = context.GetEndpoint()?.Metadata.GetMetadata<IRouteNameMetadata>()?.RouteName;
        var limit = (operationId is null ? null : catalog.Find(operationId)?.MaxBodyBytes) ?? options.Value.MaxRequestBodyBytes;
        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false })
        {
            feature.MaxRequestBodySize = limit;
        }

        if (context.Request.ContentLength > limit)
        {
            throw new ProblemException(ProblemTypes.PayloadTooLarge,
                $"The body is larger than the {limit.ToString(CultureInfo.InvariantCulture)} bytes this operation accepts.");
        }

        return next(context);
    }
}
