using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Npgsql;

namespace Canopy.Alerting.Features;

/// <summary>
/// A device moved to another zone or farm (Fleet's device.moved) leaves the rules of its old
/// scope: their open threshold alerts of it are resolved (`device_moved`), since none of its
/// readings reach those rules any more, and their state rows go, so a move back starts its
/// for_seconds afresh. Where the device is now is read when the event is handled, so a device
/// moved back in the meantime keeps its alerts. The device is locked first, as an evaluation of
/// it locks it, so an evaluation that read the old place has committed (and its alert is seen
/// here) or starts after this and reads the new place; then its pairs' state rows, in the order
/// a disabling of a rule takes them before that rule's alerts.
/// </summary>
internal sealed class MovedDevices(MessageWriter messages) : IEventSubscriber
{
    public const string Moved = "device.moved";

    // Whether rule r still watches the device $1 where it is now (fleet.device_watch).
    private const string StillWatched = """
        EXISTS (SELECT 1 FROM fleet.device_watch($1) w
                 WHERE (r.scope_kind = 'farm' AND r.scope_id = w.farm_id) OR (r.scope_kind = 'zone' AND r.scope_id = w.zone_id)
                       OR (r.scope_kind = 'device' AND r.scope_id = $1))
        """;

    public string Name => "alerting.moved-devices";

    public string Owner => "alerting";

    public IReadOnlyCollection<string> EventTypes { get; } = [Moved];

    public async Task HandleAsync(OutboxEvent message, MessageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        if (message.TenantId is not { } tenantId || !message.Payload.TryGetProperty("device_id", out var idValue) || !idValue.TryGetGuid(out var deviceId))
        {
            throw new PoisonMessageException("device.moved needs a tenant and a device_id.");
        }

        await using (var lockDevice = new NpgsqlCommand(ThresholdAlerts.LockDevice, context.Connection, context.Transaction) { Parameters = { new() { Value = deviceId } } })
        {
            await lockDevice.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        // Then the device's pairs, before their alerts, as a disabling takes a rule's pairs before
        // its alerts: taken the other way round, a move and a disabling of one of its rules
        // would each hold what the other waits for.
        await using (var lockPairs = new NpgsqlCommand(
            "SELECT 1 FROM alerting.rule_states WHERE tenant_id = $2 AND device_id = $1 ORDER BY rule_id FOR UPDATE", context.Connection, context.Transaction)
        {
            Parameters = { new() { Value = deviceId }, new() { Value = tenantId } },
        })
        {
            await lockPairs.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var resolve = new NpgsqlCommand($"""
            UPDATE alerting.alerts a SET status = 'RESOLVED', resolved_at = GREATEST(a.opened_at, $3), resolved_by = 'device_moved', version = a.version + 1
              FROM alerting.rules r
             WHERE r.id = a.rule_id AND a.tenant_id = $2 AND a.device_id = $1 AND a.kind = 'threshold' AND a.status <> 'RESOLVED'
               AND NOT {StillWatched}
            RETURNING {AlertRecord.ColumnsOf("a")}
            """, context.Connection, context.Transaction)
        {
            Parameters = { new() { Value = deviceId }, new() { Value = tenantId }, new() { Value = message.OccurredAt } },
        };
        var resolved = await PostgresTransaction.ReadAllAsync(resolve, AlertRecord.Read, cancellationToken).ConfigureAwait(false);
        foreach (var alert in resolved)
        {
            await Alerts.AppendAsync(messages, context.Connection, context.Transaction, Alerts.Resolved, alert, tenantId, cancellationToken).ConfigureAwait(false);
        }

        await using var forget = new NpgsqlCommand($"""
            DELETE FROM alerting.rule_states s USING alerting.rules r
             WHERE r.id = s.rule_id AND s.tenant_id = $2 AND s.device_id = $1 AND NOT {StillWatched}
            """, context.Connection, context.Transaction)
        {
            Parameters = { new() { Value = deviceId }, new() { Value = tenantId } },
        };
        await forget.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
