using Canopy.Contracts;
using Canopy.Platform.Data;
using Canopy.Platform.Problems;
using Canopy.Platform.Tenancy;
using Canopy.Telemetry.Features;
using Canopy.Telemetry.Security;
using Canopy.Telemetry.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.Mvc;

namespace Canopy.Telemetry;

/// <summary>The module's use cases, handed to its controller (public for MVC, the use cases stay internal).</summary>
public sealed class TelemetryFeatures
{
    internal TelemetryFeatures(DeviceTokenGrants grants, Ingestion ingestion, History history, EventStream streams)
    {
        Grants = grants;
        Ingestion = ingestion;
        History = history;
        Streams = streams;
    }

    internal DeviceTokenGrants Grants { get; }

    internal Ingestion Ingestion { get; }

    internal History History { get; }

    internal EventStream Streams { get; }
}

/// <summary>The operations of the Telemetry tag: translate, call the feature, translate.</summary>
/// <remarks>Who may call what comes from x-roles in the spec (device tokens for ingestion), enforced before these methods run.</remarks>
public sealed class TelemetryController(TelemetryFeatures features, ITenantContext tenant) : TelemetryControllerBase
{
    public override async Task<ActionResult<DeviceTokenResponse>> IssueDeviceToken(IssueDeviceTokenRequest body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        var token = await features.Grants.IssueAsync(body.Device_id, body.Credential, HttpContext.Connection.RemoteIpAddress, cancellationToken).ConfigureAwait(false);
        Response.Headers.CacheControl = "no-store";
        return token;
    }

    public override async Task<ActionResult<IngestTelemetryBatchResult>> IngestTelemetryBatch(IngestTelemetryBatchRequest body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        var device = DeviceTokens.CallerOf(User) ?? throw DeviceTokenGrants.Refused();
        return await features.Ingestion.IngestAsync(device, body.Readings, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<ActionResult<ReadingPage>> ListReadings(
        Guid device_id, Metric metric, DateTimeOffset? from = null, DateTimeOffset? to = null, string? cursor = null, int? limit = 50, string? if_None_Match = null,
        CancellationToken cancellationToken = default) =>
        Page(if_None_Match, await features.History.ReadingsAsync(Tenant, device_id, metric, from, to, cursor, limit ?? 50, cancellationToken).ConfigureAwait(false));

    public override async Task<ActionResult<RollupPage>> ListRollups(
        Guid device_id, Metric metric, RollupBucket bucket, DateTimeOffset? from = null, DateTimeOffset? to = null, string? cursor = null, int? limit = 50,
        string? if_None_Match = null, CancellationToken cancellationToken = default) =>
        Page(if_None_Match, await features.History.RollupsAsync(Tenant, device_id, metric, bucket, from, to, cursor, limit ?? 50, cancellationToken).ConfigureAwait(false));

    [DisableRequestTimeout]
    public override async Task<ActionResult<string>> StreamTelemetry(Guid? zone_id = null, Guid? device_id = null, string? last_Event_ID = null, CancellationToken cancellationToken = default)
    {
        if (zone_id.HasValue == device_id.HasValue)
        {
            throw new ProblemException(ProblemTypes.ValidationFailed, "Name exactly one of zone_id and device_id: the stream follows one zone or one device.",
                [new FieldError("Send either zone_id or device_id.", Parameter: zone_id.HasValue ? "device_id" : "zone_id", In: "query")]);
        }

        if (!await features.History.VisibleAsync(Tenant, device_id, zone_id, cancellationToken).ConfigureAwait(false))
        {
            throw new ProblemException(ProblemTypes.NotFound, $"No {(device_id.HasValue ? "device" : "zone")} with this id exists in your organisation.");
        }

        var key = device_id is { } device ? LiveReadings.DeviceKey(Tenant, device) : LiveReadings.ZoneKey(Tenant, zone_id!.Value);
        await features.Streams.ServeAsync(HttpContext, key, last_Event_ID).ConfigureAwait(false);
        return new EmptyResult();
    }

    private Guid Tenant => tenant.TenantId ?? throw new ProblemException(ProblemTypes.Unauthenticated, "The access token does not name an organisation.");

    /// <summary>A page with a strong ETag of its content, or 304 when the caller already holds it.</summary>
    private ActionResult<T> Page<T>(string? ifNoneMatch, T page) => this.ReadTagged(ifNoneMatch, EntityTag.FromContent(page), () => page);
}
