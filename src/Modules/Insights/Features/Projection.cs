using System.Text.Json;
using Canopy.Platform.Messaging;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Insights.Features;

/// <summary>
/// Keeps the read models from Fleet's farm, zone and device events, Telemetry's sightings and
/// Alerting's alert events, in the delivery's transaction, and, once it committed, clears the
/// cached views the event changed. A row that follows an aggregate moves only to a newer version,
/// so a redelivery changes nothing. A sighting (telemetry.device_reported, up to once a minute per
/// device) moves last_seen_at without clearing a view: the fleet panel's 60 s are fresh enough
/// for it, and clearing on every sighting would leave nothing cached.
/// </summary>
internal sealed class Projection(ReadModels readModels) : IEventSubscriber
{
    public string Name => "insights.read-models";

    public string Owner => "insights";

    public IReadOnlyCollection<string> EventTypes { get; } =
    [
        "farm.created", "farm.renamed", "farm.archived", "zone.created", "zone.archived",
        "device.registered", "device.activated", "device.fault_reported", "device.fault_cleared", "device.moved",
        "device.went_offline", "device.came_online", "device.decommissioned", "telemetry.device_reported",
        "alert.raised", "alert.acknowledged", "alert.resolved",
    ];

    public async Task HandleAsync(OutboxEvent message, MessageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        if (message.TenantId is not { } tenantId)
        {
            throw new PoisonMessageException($"{message.Type} needs a tenant.");
        }

        var payload = message.Payload;
        string[] cleared;
        switch (message.Type)
        {
            case "farm.created" or "farm.renamed" or "farm.archived":
                await ExecuteAsync(context, """
                    INSERT INTO insights.farms AS f (farm_id, tenant_id, name, archived, version) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (farm_id) DO UPDATE SET name = EXCLUDED.name, archived = EXCLUDED.archived, version = EXCLUDED.version
                     WHERE f.version < EXCLUDED.version
                    """, cancellationToken, Id(payload, "farm_id"), tenantId, Text(payload, "name"), message.Type == "farm.archived", Version(payload)).ConfigureAwait(false);
                cleared = [ViewFamily.Fleet];
                break;
            case "zone.created" or "zone.archived":
                await ExecuteAsync(context, """
                    INSERT INTO insights.zones AS z (zone_id, tenant_id, farm_id, name, archived, version) VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (zone_id) DO UPDATE SET name = EXCLUDED.name, archived = EXCLUDED.archived, version = EXCLUDED.version
                     WHERE z.version < EXCLUDED.version
                    """, cancellationToken, Id(payload, "zone_id"), tenantId, Id(payload, "farm_id"), Text(payload, "name"), message.Type == "zone.archived",
                    Version(payload)).ConfigureAwait(false);
                cleared = [ViewFamily.Faults, ViewFamily.Trends];
                break;
            case "telemetry.device_reported":
                await ExecuteAsync(context, "UPDATE insights.devices SET last_seen_at = greatest(last_seen_at, $2) WHERE device_id = $1",
                    cancellationToken, Id(payload, "device_id"), Time(payload, "seen_at")).ConfigureAwait(false);
                return;
            case "alert.raised" or "alert.acknowledged" or "alert.resolved":
                await ExecuteAsync(context, """
                    INSERT INTO insights.alerts AS a (alert_id, tenant_id, severity, status, opened_at, acknowledged_at, resolved_at, version)
                    VALUES ($1, $2, $3, $4, $5, CASE WHEN $7 = 'alert.acknowledged' THEN $6 END, CASE WHEN $7 = 'alert.resolved' THEN $6 END, $8)
                    ON CONFLICT (alert_id) DO UPDATE
                       SET severity = EXCLUDED.severity, status = EXCLUDED.status, version = EXCLUDED.version,
                           acknowledged_at = coalesce(a.acknowledged_at, EXCLUDED.acknowledged_at), resolved_at = coalesce(a.resolved_at, EXCLUDED.resolved_at)
                     WHERE a.version < EXCLUDED.version
                    """, cancellationToken, Id(payload, "alert_id"), tenantId, Text(payload, "severity"), Text(payload, "status"), Time(payload, "opened_at"),
                    message.OccurredAt, message.Type, Version(payload)).ConfigureAwait(false);
                cleared = [ViewFamily.Alerts];
                break;
            default:
                cleared = await DeviceAsync(message, tenantId, context, cancellationToken).ConfigureAwait(false);
                break;
        }

        context.AfterCommit.Add(ct => readModels.ClearAsync(tenantId, cleared, ct));
    }

    private static async Task<string[]> DeviceAsync(OutboxEvent message, Guid tenantId, MessageContext context, CancellationToken cancellationToken)
    {
        var payload = message.Payload;
        var deviceId = Id(payload, "device_id");
        var zoneId = Id(payload, "zone_id");
        // Whether the event says something of the battery: a fault reported (low battery or not), cleared, or the device gone.
        var fault = message.Type == "device.fault_reported" && payload.TryGetProperty("fault", out var f) && f.ValueKind == JsonValueKind.Object ? f : (JsonElement?)null;
        var batteryKnown = message.Type is "device.fault_reported" or "device.fault_cleared" or "device.decommissioned";
        var batteryLow = fault is { } reported && Text(reported, "code") == "battery_low";
        DateTimeOffset? lastSeen = payload.TryGetProperty("last_seen_at", out var seen) && seen.ValueKind == JsonValueKind.String ? seen.GetDateTimeOffset() : null;
        await ExecuteAsync(context, """
            INSERT INTO insights.devices AS d (device_id, tenant_id, farm_id, zone_id, status, battery_low, last_seen_at, version)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (device_id) DO UPDATE
               SET farm_id = EXCLUDED.farm_id, zone_id = EXCLUDED.zone_id, status = EXCLUDED.status, version = EXCLUDED.version,
                   battery_low = CASE WHEN $9 THEN EXCLUDED.battery_low ELSE d.battery_low END,
                   last_seen_at = greatest(d.last_seen_at, EXCLUDED.last_seen_at)
             WHERE d.version < EXCLUDED.version
            """, cancellationToken, deviceId, tenantId, Id(payload, "farm_id"), zoneId, Text(payload, "status"), batteryLow,
            new NpgsqlParameter { Value = (object?)lastSeen ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz }, Version(payload), batteryKnown).ConfigureAwait(false);
        if (fault is { } counted)
        {
            await ExecuteAsync(context, """
                INSERT INTO insights.faults (event_id, tenant_id, device_id, zone_id, code, reported_at) VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT DO NOTHING
                """, cancellationToken, message.Id, tenantId, deviceId, zoneId, Text(counted, "code"),
                counted.TryGetProperty("reported_at", out var at) && at.ValueKind == JsonValueKind.String ? at.GetDateTimeOffset() : message.OccurredAt).ConfigureAwait(false);
        }

        // Where a device is changes the zones' charts and fault ranks; anything else only the fleet panel.
        return message.Type switch
        {
            "device.fault_reported" => [ViewFamily.Fleet, ViewFamily.Faults],
            "device.moved" or "device.registered" or "device.decommissioned" => [ViewFamily.Fleet, ViewFamily.Trends],
            _ => [ViewFamily.Fleet],
        };
    }

    private static async Task ExecuteAsync(MessageContext context, string sql, CancellationToken cancellationToken, params object?[] arguments)
    {
        await using var command = new NpgsqlCommand(sql, context.Connection, context.Transaction);
        foreach (var argument in arguments)
        {
            command.Parameters.Add(argument as NpgsqlParameter ?? new NpgsqlParameter { Value = argument ?? DBNull.Value });
        }

        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static Guid Id(JsonElement payload, string name) =>
        payload.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.TryGetGuid(out var id)
            ? id : throw new PoisonMessageException($"The event has no {name}.");

    private static string Text(JsonElement payload, string name) =>
        payload.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : throw new PoisonMessageException($"The event has no {name}.");

    private static int Version(JsonElement payload) =>
        payload.TryGetProperty("version", out var value) && value.TryGetInt32(out var version) ? version : throw new PoisonMessageException("The event has no version.");

    private static DateTimeOffset Time(JsonElement payload, string name) =>
        payload.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.TryGetDateTimeOffset(out var at)
            ? at : throw new PoisonMessageException($"The event has no {name}.");
}
