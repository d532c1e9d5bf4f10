using Canopy.Contracts;
using Canopy.Insights.Features;
using Canopy.Platform.Problems;
using Canopy.Platform.Tenancy;
using Microsoft.AspNetCore.Mvc;

namespace Canopy.Insights;

/// <summary>The module's use cases, handed to its controller (public for MVC, the use cases stay internal).</summary>
public sealed class InsightsFeatures
{
    internal InsightsFeatures(Views views) => Views = views;

    internal Views Views { get; }
}

/// <summary>The operations of the Insights tag: translate, call the view, translate.</summary>
/// <remarks>Who may call what comes from x-roles in the spec, enforced before these methods run.</remarks>
public sealed class InsightsController(InsightsFeatures features, ITenantContext tenant) : InsightsControllerBase
{
    private readonly Views _views = features.Views;

    public override async Task<ActionResult<FleetStatusSummary>> GetFleetStatusSummary(CancellationToken cancellationToken = default) =>
        Json(await _views.FleetStatusAsync(Tenant, cancellationToken).ConfigureAwait(false));

    public override async Task<ActionResult<AlertSummary>> GetAlertSummary(CancellationToken cancellationToken = default) =>
        Json(await _views.AlertSummaryAsync(Tenant, cancellationToken).ConfigureAwait(false));

    public override async Task<ActionResult<TopFaultingZones>> GetTopFaultingZones(FaultPeriod? period = null, CancellationToken cancellationToken = default) =>
        Json(await _views.TopFaultingZonesAsync(Tenant, period ?? FaultPeriod.Week, cancellationToken).ConfigureAwait(false));

    public override async Task<ActionResult<TrendChart>> GetTrendChart(Guid zone_id, Metric metric, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken cancellationToken = default) =>
        Json(await _views.TrendChartAsync(Tenant, zone_id, metric, from, to, cancellationToken).ConfigureAwait(false));

    /// <summary>The view's JSON as cached: written as it is, never deserialised and serialised again.</summary>
    private static ContentResult Json(string? json) =>
        new() { Content = json ?? throw new InvalidOperationException("The view exists for every organisation."), ContentType = "application/json", StatusCode = 200 };

    private Guid Tenant => tenant.TenantId ?? throw new ProblemException(ProblemTypes.Unauthenticated, "The access token does not name an organisation.");
}
