using Canopy.Contracts;
using Canopy.Platform.Health;
using Canopy.Platform.Metrics;
using Microsoft.AspNetCore.Http.Timeouts;
using Canopy.Platform.Problems;
using Microsoft.AspNetCore.Mvc;

namespace Canopy.Api.Platform;

/// <summary>Liveness, readiness and metrics: the operations of the Platform tag.</summary>
/// <remarks>Public because MVC discovers only public controllers.</remarks>
public sealed class PlatformController(
    ReadinessProbe readiness,
    MetricsAccessPolicy metricsAccess,
    MetricsExposition exposition) : PlatformControllerBase
{
    private const string HealthMediaType = "application/health+json";

    [DisableRequestTimeout]
    public override Task<ActionResult<Liveness>> GetLiveness(CancellationToken cancellationToken = default) =>
        Task.FromResult<ActionResult<Liveness>>(Health(StatusCodes.Status200OK, new Liveness { Status = HealthStatus.Pass }));

    [DisableRequestTimeout]
    public override async Task<ActionResult<Readiness>> GetReadiness(CancellationToken cancellationToken = default)
    {
        var report = await readiness.CheckAsync(cancellationToken).ConfigureAwait(false);
        var status = report.Status == HealthState.Fail ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
        return Health(status, HealthMapping.ToContract(report));
    }

    public override async Task<ActionResult<string>> GetMetrics(CancellationToken cancellationToken = default)
    {
        if (!metricsAccess.Allows(HttpContext.Connection.RemoteIpAddress, Request.Headers.Authorization))
        {
            return ProblemFactory.Result(HttpContext, ProblemTypes.Forbidden, "Metrics are readable only from the configured networks or with the scrape token.");
        }

        Response.ContentType = MetricsExposition.ContentType;
        Response.Headers.CacheControl = "no-store";
        await exposition.WriteAsync(Response.Body, cancellationToken).ConfigureAwait(false);
        return new EmptyResult();
    }

    private ObjectResult Health(int status, object body)
    {
        Response.Headers.CacheControl = "no-store";
        return new ObjectResult(body) { StatusCode = status, ContentTypes = { HealthMediaType } };
    }
}
