using System.Text.Json;
using Canopy.Alerting.Domain;
using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Npgsql;

namespace Canopy.Alerting.Features;

/// <summary>
/// A fault reported on a device (Fleet's device.fault_reported) raises a device-fault alert;
/// the fault cleared (device.fault_cleared), or the device decommissioned with its fault
/// (device.decommissioned), resolves it; a decommissioning resolves the device's threshold
/// alerts too, since no reading of it will clear them. One alert that is not resolved per
/// device and fault: a redelivered report finds the open one (a partial unique index), and a
/// clearing with nothing open changes nothing. Fleet's events of one device arrive in order.
/// </summary>
internal sealed class FaultAlerts(MessageWriter messages) : IEventSubscriber
{
    public const string FaultReported = "device.fault_reported";
    public const string FaultCleared = "device.fault_cleared";
    public const string Decommissioned = "device.decommissioned";

    public string Name => "alerting.device-faults";

    public string Owner => "alerting";

    public IReadOnlyCollection<string> EventTypes { get; } = [FaultReported, FaultCleared, Decommissioned];

    public async Task HandleAsync(OutboxEvent message, MessageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        var payload = message.Payload;
        if (message.TenantId is not { } tenantId || !payload.TryGetProperty("device_id", out var idValue) || !idValue.TryGetGuid(out var deviceId))
        {
            throw new PoisonMessageException($"{message.Type} needs a tenant and a device_id.");
        }

        if (message.Type is FaultCleared or Decommissioned)
        {
            var by = message.Type == FaultCleared ? "fault_cleared" : "device_decommissioned";
            await ResolveAsync(tenantId, deviceId, message.OccurredAt, by, context, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (!payload.TryGetProperty("fault", out var fault) || fault.ValueKind != JsonValueKind.Object
            || Text(fault, "code") is not { } code || Text(fault, "note") is not { } note
            || !fault.TryGetProperty("reported_at", out var reportedValue) || !reportedValue.TryGetDateTimeOffset(out var reportedAt))
        {
            throw new PoisonMessageException("device.fault_reported needs its fault (code, note, reported_at).");
        }

        var serial = Text(payload, "serial_number") ?? deviceId.ToString();
        Guid? zone = payload.TryGetProperty("zone_id", out var zoneValue) && zoneValue.TryGetGuid(out var zoneId) ? zoneId : null;
        var alert = new AlertRecord(Guid.CreateVersion7(reportedAt), "device_fault", null, deviceId, zone, null, null, AlertLifecycle.FaultSeverity(code),
            AlertLifecycle.FaultSummary(serial, code, note), AlertState.Open, reportedAt, null, null, null, 1);
        await using var insert = new NpgsqlCommand("""
            INSERT INTO alerting.alerts (id, tenant_id, kind, device_id, zone_id, severity, summary, opened_at)
            VALUES ($1, $2, 'device_fault', $3, $7, $4, $5, $6)
            ON CONFLICT (device_id) WHERE kind = 'device_fault' AND status <> 'RESOLVED' DO NOTHING
            """, context.Connection, context.Transaction)
        {
            Parameters = { new() { Value = alert.Id }, new() { Value = tenantId }, new() { Value = deviceId }, new() { Value = alert.Severity }, new() { Value = alert.Summary }, new() { Value = reportedAt },
                new() { Value = (object?)zone ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid } },
        };
        if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1)
        {
            await Alerts.AppendAsync(messages, context.Connection, context.Transaction, Alerts.Raised, alert, tenantId, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private async Task ResolveAsync(Guid tenantId, Guid deviceId, DateTimeOffset clearedAt, string resolvedBy, MessageContext context, CancellationToken cancellationToken)
    {
        // A decommissioning resolves threshold alerts too: the device first, as an evaluation of it locks it.
        await using (var lockDevice = new NpgsqlCommand(ThresholdAlerts.LockDevice, context.Connection, context.Transaction) { Parameters = { new() { Value = deviceId } } })
        {
            await lockDevice.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var update = new NpgsqlCommand($"""
            UPDATE alerting.alerts SET status = 'RESOLVED', resolved_at = GREATEST(opened_at, $2), resolved_by = $4, version = version + 1
             WHERE tenant_id = $3 AND device_id = $1 AND status <> 'RESOLVED' AND (kind = 'device_fault' OR ($5 AND kind = 'threshold'))
            RETURNING {AlertRecord.Columns}
            """, context.Connection, context.Transaction)
        {
            Parameters = { new() { Value = deviceId }, new() { Value = clearedAt }, new() { Value = tenantId }, new() { Value = resolvedBy }, new() { Value = resolvedBy == "device_decommissioned" } },
        };
        var resolved = await PostgresTransaction.ReadAllAsync(update, AlertRecord.Read, cancellationToken).ConfigureAwait(false);

        foreach (var alert in resolved)
        {
            await Alerts.AppendAsync(messages, context.Connection, context.Transaction, Alerts.Resolved, alert, tenantId, cancellationToken).ConfigureAwait(false);
        }
    }
}
