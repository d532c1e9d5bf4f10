using System.Collections.Concurrent;
using Canopy.Alerting.Domain;
using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Microsoft.Extensions.Options;
using NpgsqlTypes;

namespace Canopy.Alerting.Features;

/// <summary>
/// Evaluates the enabled rules that watch a stored batch's device (its own rules, its zone's,
/// its farm's) on the batch's readings, in one transaction of the batch's tenant: each (rule,
/// device) pair's state row is locked (then the alerts are read), evaluated (<see cref="ThresholdEvaluation"/>) and
/// written back with the alerts it raises, extends or resolves and their outbox events. Two
/// workers handling the same batch therefore take turns, and the second finds its readings
/// evaluated already. What Alerting knows of the device comes from Fleet's public function
/// (fleet.device_watch), never from Fleet's or Telemetry's tables.
/// </summary>
internal sealed class ThresholdAlerts(PostgresDataSources dataSources, WatchedMetrics watched, MessageWriter messages, TimeProvider time)
{
    /// <summary>
    /// Serialises the changes that decide a device's threshold alerts (an evaluation, a move, a
    /// decommissioning), taken first in each: a pair's state row that an evaluation is inserting
    /// cannot be locked by the others, the device can.
    /// </summary>
    internal const string LockDevice = "SELECT pg_advisory_xact_lock(hashtext('alerting.device'), hashtext($1::text))";

    private sealed record Watch(
        string Serial, Guid ZoneId, Guid RuleId, string RuleName, string Metric, Condition Condition, int ForSeconds, string Severity,
        BreachState State, AlertRecord? Open);

    /// <summary>Evaluates the batch; answers the alerts' transitions made (raised or resolved).</summary>
    public async Task<int> EvaluateAsync(FedBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var metrics = batch.Readings.Select(r => r.Metric).Distinct(StringComparer.Ordinal).ToArray();
        if (!await watched.AnyAsync(batch.TenantId, metrics, cancellationToken).ConfigureAwait(false))
        {
            return 0;
        }

        await using var tx = await PostgresTransaction.BeginAsync(dataSources.Primary, batch.TenantId, cancellationToken).ConfigureAwait(false);
        await tx.ExecuteAsync(LockDevice, cancellationToken, batch.DeviceId).ConfigureAwait(false);
        // The pairs' rows exist before they are locked, so that two evaluations of a new pair
        // serialise on its row instead of both finding none.
        await tx.ExecuteAsync("""
            INSERT INTO alerting.rule_states (rule_id, device_id, tenant_id)
            SELECT r.id, $1, r.tenant_id
              FROM fleet.device_watch($1) w
              JOIN alerting.rules r ON r.status = 'ENABLED' AND r.metric = ANY($2)
                   AND ((r.scope_kind = 'farm' AND r.scope_id = w.farm_id) OR (r.scope_kind = 'zone' AND r.scope_id = w.zone_id)
                        OR (r.scope_kind = 'device' AND r.scope_id = $1))
             ORDER BY r.id
            ON CONFLICT DO NOTHING
            """, cancellationToken, batch.DeviceId, metrics).ConfigureAwait(false);
        // Lock first, read after: a statement that waited for a lock would still see the alerts as
        // they were when it started; the read below starts once this worker holds the pairs.
        await tx.ExecuteAsync("SELECT 1 FROM alerting.rule_states WHERE device_id = $1 ORDER BY rule_id FOR UPDATE", cancellationToken, batch.DeviceId).ConfigureAwait(false);
        await using var find = tx.Command($"""
            SELECT w.serial_number, w.zone_id, w.targets -> r.metric ->> 'min', w.targets -> r.metric ->> 'max',
                   r.id, r.name, r.metric, r.operator, r.threshold, r.for_seconds, r.severity,
                   s.breach_since, s.clear_since, s.evaluated_until,
                   {AlertRecord.ColumnsOf("a")}
              FROM fleet.device_watch($1) w
              JOIN alerting.rules r ON r.status = 'ENABLED' AND r.metric = ANY($2)
                   AND ((r.scope_kind = 'farm' AND r.scope_id = w.farm_id) OR (r.scope_kind = 'zone' AND r.scope_id = w.zone_id)
                        OR (r.scope_kind = 'device' AND r.scope_id = $1))
              JOIN alerting.rule_states s ON s.rule_id = r.id AND s.device_id = $1
              LEFT JOIN alerting.alerts a ON a.rule_id = r.id AND a.device_id = $1 AND a.kind = 'threshold' AND a.status <> 'RESOLVED'
             ORDER BY r.id
            """, batch.DeviceId, metrics);
        var watches = await PostgresTransaction.ReadAllAsync(find, r => new Watch(
            r.GetString(0), r.GetGuid(1), r.GetGuid(4), r.GetString(5), r.GetString(6),
            new Condition(r.GetString(7), r.IsDBNull(8) ? null : r.GetDouble(8), Number(r, 2), Number(r, 3)),
            r.GetInt32(9), r.GetString(10),
            new BreachState(Time(r, 11), Time(r, 12), Time(r, 13)),
            r.IsDBNull(14) ? null : AlertRecord.Read(r, 14)), cancellationToken).ConfigureAwait(false);

        var changes = 0;
        foreach (var watch in watches.Where(w => w.Condition.CanJudge))
        {
            var readings = batch.Readings.Where(r => r.Metric == watch.Metric).Select(r => new TimedValue(r.RecordedAt, r.Value));
            var outcome = ThresholdEvaluation.Evaluate(watch.Condition, watch.ForSeconds, watch.State, watch.Open is not null, readings);
            changes += await ApplyAsync(tx, batch, watch, outcome, cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changes;
    }

    private async Task<int> ApplyAsync(PostgresTransaction tx, FedBatch batch, Watch watch, Evaluation outcome, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var open = watch.Open;
        // The rule may be being disabled meanwhile: its row, shared-locked before any of this
        // outcome's alerts is touched, decides. A disabling commits first (and this sees it
        // disabled and changes nothing) or waits for this to commit (and resolves what it raised).
        if (outcome.Transitions.Any(t => t.Raise))
        {
            await using var enabled = tx.Command("SELECT 1 FROM alerting.rules WHERE id = $1 AND status = 'ENABLED' FOR SHARE", watch.RuleId);
            if (await enabled.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
            {
                return 0;
            }
        }

        foreach (var transition in outcome.Transitions)
        {
            if (transition.Raise)
            {
                var alert = new AlertRecord(Guid.CreateVersion7(now), "threshold", watch.RuleId, batch.DeviceId, watch.ZoneId, null, watch.Metric, watch.Severity,
                    ThresholdEvaluation.Summary(watch.RuleName, watch.Serial, watch.Metric, watch.Condition, watch.ForSeconds, transition.Reading.Value),
                    AlertState.Open, now, null, null, null, 1);
                var inserted = await tx.ExecuteAsync("""
                    INSERT INTO alerting.alerts (id, tenant_id, kind, rule_id, device_id, zone_id, metric, severity, summary, opened_at, last_breach_at, last_value)
                    VALUES ($1, $2, 'threshold', $3, $4, $5, $6, $7, $8, $9, $10, $11)
                    ON CONFLICT (rule_id, device_id) WHERE kind = 'threshold' AND status <> 'RESOLVED' DO NOTHING
                    """, cancellationToken, alert.Id, batch.TenantId, watch.RuleId, batch.DeviceId, watch.ZoneId, watch.Metric, watch.Severity, alert.Summary, now,
                    transition.Reading.At, transition.Reading.Value).ConfigureAwait(false);
                if (inserted == 1)
                {
                    await Alerts.AppendAsync(messages, tx.Connection, tx.Transaction, Alerts.Raised, alert, batch.TenantId, cancellationToken).ConfigureAwait(false);
                    open = alert;
                }
            }
            else if (open is not null)
            {
                // A member may have acknowledged or resolved it since it was read: the row decides.
                await using var resolve = tx.Command($"""
                    UPDATE alerting.alerts SET status = 'RESOLVED', resolved_at = $2, resolved_by = 'condition_cleared', version = version + 1
                     WHERE id = $1 AND status <> 'RESOLVED'
                    RETURNING {AlertRecord.Columns}
                    """, open.Id, now);
                foreach (var resolved in await PostgresTransaction.ReadAllAsync(resolve, AlertRecord.Read, cancellationToken).ConfigureAwait(false))
                {
                    await Alerts.AppendAsync(messages, tx.Connection, tx.Transaction, Alerts.Resolved, resolved, batch.TenantId, cancellationToken).ConfigureAwait(false);
                }

                open = null;
            }
        }

        // An open alert's breach goes on: the newest breaking reading extends it (no new version:
        // its state is unchanged, and a member's If-Match on it still holds).
        if (open is not null && outcome.LastBreach is { } last)
        {
            await tx.ExecuteAsync("UPDATE alerting.alerts SET last_breach_at = $2, last_value = $3 WHERE id = $1 AND (last_breach_at IS NULL OR last_breach_at < $2)",
                cancellationToken, open.Id, last.At, last.Value).ConfigureAwait(false);
        }

        await tx.ExecuteAsync("UPDATE alerting.rule_states SET breach_since = $3, clear_since = $4, evaluated_until = $5 WHERE rule_id = $1 AND device_id = $2",
            cancellationToken, watch.RuleId, batch.DeviceId,
            PostgresTransaction.Nullable(outcome.Next.BreachSince, NpgsqlDbType.TimestampTz), PostgresTransaction.Nullable(outcome.Next.ClearSince, NpgsqlDbType.TimestampTz),
            PostgresTransaction.Nullable(outcome.Next.EvaluatedUntil, NpgsqlDbType.TimestampTz)).ConfigureAwait(false);
        return outcome.Transitions.Count;
    }

    private static double? Number(Npgsql.NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : double.Parse(reader.GetString(ordinal), System.Globalization.CultureInfo.InvariantCulture);

    private static DateTimeOffset? Time(Npgsql.NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);
}

/// <summary>
/// Which metrics a tenant's enabled rules watch, per instance, for a few seconds: most stored
/// batches are watched by no rule, and are then skipped without a transaction. A rule created or
/// enabled on this instance is seen at once; on another, within <see cref="AlertingOptions.RuleCacheSeconds"/>.
/// </summary>
internal sealed class WatchedMetrics(PostgresDataSources dataSources, IOptions<AlertingOptions> options, TimeProvider time)
{
    private const int MaxTenants = 100_000;
    private readonly ConcurrentDictionary<Guid, (DateTimeOffset Until, string[] Metrics)> _byTenant = new();

    /// <summary>Whether the tenant has an enabled rule at all: a batch of a tenant without one is not even read.</summary>
    public async Task<bool> AnyRuleAsync(Guid tenantId, CancellationToken cancellationToken) =>
        (await MetricsAsync(tenantId, cancellationToken).ConfigureAwait(false)).Length > 0;

    public async Task<bool> AnyAsync(Guid tenantId, IReadOnlyCollection<string> metrics, CancellationToken cancellationToken) =>
        (await MetricsAsync(tenantId, cancellationToken).ConfigureAwait(false)).Any(metrics.Contains);

    private async Task<string[]> MetricsAsync(Guid tenantId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (!_byTenant.TryGetValue(tenantId, out var known) || known.Until <= now)
        {
            var rows = await PostgresTransaction.ReadAsync(dataSources.Primary, tenantId,
                "SELECT DISTINCT metric FROM alerting.rules WHERE status = 'ENABLED'", r => r.GetString(0), cancellationToken).ConfigureAwait(false);
            if (_byTenant.Count >= MaxTenants)
            {
                _byTenant.Clear();
            }

            known = (now.AddSeconds(options.Value.RuleCacheSeconds), rows.ToArray());
            _byTenant[tenantId] = known;
        }

        return known.Metrics;
    }

    /// <summary>The tenant's rules changed here: its next batch reads them again.</summary>
    public void Forget(Guid tenantId) => _byTenant.TryRemove(tenantId, out _);
}
