using System.Text.Json;
using Canopy.Alerting.Domain;
using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Alerting.Features;

/// <summary>
/// Devices that stop reporting (Fleet's device.went_offline) raise one alert per zone, however
/// many of its devices go silent: the first opens it (warning), the next join it (critical from
/// two on, a gateway or the power rather than one battery). A device that reports again
/// (device.came_online) or is decommissioned leaves it; the last to leave resolves it. A
/// partial unique index keeps one open offline alert per zone, even with two workers at once.
/// </summary>
internal sealed class OfflineAlerts(MessageWriter messages) : IEventSubscriber
{
    public const string WentOffline = "device.went_offline";
    public const string CameOnline = "device.came_online";
    public const string Decommissioned = "device.decommissioned";

    public string Name => "alerting.offline-zones";

    public string Owner => "alerting";

    public IReadOnlyCollection<string> EventTypes { get; } = [WentOffline, CameOnline, Decommissioned];

    public async Task HandleAsync(OutboxEvent message, MessageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        var payload = message.Payload;
        if (message.TenantId is not { } tenantId
            || !payload.TryGetProperty("device_id", out var idValue) || !idValue.TryGetGuid(out var deviceId)
            || !payload.TryGetProperty("zone_id", out var zoneValue) || !zoneValue.TryGetGuid(out var zoneId))
        {
            throw new PoisonMessageException($"{message.Type} needs a tenant, a device_id and a zone_id.");
        }

        if (message.Type == WentOffline)
        {
            await JoinAsync(tenantId, deviceId, zoneId, payload, message.OccurredAt, context, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await LeaveAsync(tenantId, deviceId, message.Type == CameOnline ? "devices_online" : "device_decommissioned", message.OccurredAt, context, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    private async Task JoinAsync(Guid tenantId, Guid deviceId, Guid zoneId, JsonElement payload, DateTimeOffset at, MessageContext context, CancellationToken cancellationToken)
    {
        var serial = payload.TryGetProperty("serial_number", out var serialValue) && serialValue.ValueKind == JsonValueKind.String ? serialValue.GetString()! : deviceId.ToString();
        DateTimeOffset? lastSeen = payload.TryGetProperty("last_seen_at", out var seenValue) && seenValue.ValueKind == JsonValueKind.String && seenValue.TryGetDateTimeOffset(out var seen) ? seen : null;
        await using var upsert = new NpgsqlCommand($"""
            INSERT INTO alerting.alerts AS a (id, tenant_id, kind, device_id, zone_id, offline_devices, severity, summary, opened_at)
            VALUES ($1, $2, 'offline', $3, $4, ARRAY[$3], $5, $6, $7)
            ON CONFLICT (zone_id) WHERE kind = 'offline' AND status <> 'RESOLVED' DO UPDATE
               SET offline_devices = a.offline_devices || $3, severity = $8, version = a.version + 1
             WHERE NOT $3 = ANY(a.offline_devices)
            RETURNING xmax = 0, {AlertRecord.Columns}
            """, context.Connection, context.Transaction)
        {
            Parameters =
            {
                new() { Value = Guid.CreateVersion7(at) }, new() { Value = tenantId }, new() { Value = deviceId }, new() { Value = zoneId },
                new() { Value = AlertLifecycle.OfflineSeverity(1) }, new() { Value = AlertLifecycle.OfflineSummary(serial, lastSeen) }, new() { Value = at },
                new() { Value = AlertLifecycle.OfflineSeverity(2) }, // a device joining: two or more are silent
            },
        };
        await using var reader = await upsert.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false) || !reader.GetBoolean(0))
        {
            return; // joined the zone's open alert, or already in it (a redelivery)
        }

        var raised = new AlertRecord(reader.GetGuid(1), "offline", null, deviceId, zoneId, 1, null, reader.GetString(8), reader.GetString(9), AlertState.Open, at, null, null, null, 1);
        await reader.DisposeAsync().ConfigureAwait(false);
        await Alerts.AppendAsync(messages, context.Connection, context.Transaction, Alerts.Raised, raised, tenantId, cancellationToken).ConfigureAwait(false);
    }

    private async Task LeaveAsync(Guid tenantId, Guid deviceId, string resolvedBy, DateTimeOffset at, MessageContext context, CancellationToken cancellationToken)
    {
        await using var update = new NpgsqlCommand($"""
            UPDATE alerting.alerts
               SET offline_devices = array_remove(offline_devices, $1),
                   status = CASE WHEN offline_devices = ARRAY[$1] THEN 'RESOLVED' ELSE status END,
                   resolved_at = CASE WHEN offline_devices = ARRAY[$1] THEN $2 ELSE resolved_at END,
                   resolved_by = CASE WHEN offline_devices = ARRAY[$1] THEN $3 ELSE resolved_by END,
                   version = version + 1
             WHERE tenant_id = $4 AND kind = 'offline' AND status <> 'RESOLVED' AND offline_devices @> ARRAY[$1]
            RETURNING {AlertRecord.Columns}
            """, context.Connection, context.Transaction)
        {
            Parameters =
            {
                new() { Value = deviceId, NpgsqlDbType = NpgsqlDbType.Uuid }, new() { Value = at }, new() { Value = resolvedBy }, new() { Value = tenantId },
            },
        };
        var changed = await PostgresTransaction.ReadAllAsync(update, AlertRecord.Read, cancellationToken).ConfigureAwait(false);

        foreach (var resolved in changed.Where(a => a.State == AlertState.Resolved))
        {
            await Alerts.AppendAsync(messages, context.Connection, context.Transaction, Alerts.Resolved, resolved, tenantId, cancellationToken).ConfigureAwait(false);
        }
    }
}
