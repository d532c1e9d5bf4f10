using Canopy.Alerting.Domain;
using Canopy.Contracts;
using Canopy.Platform.Data;
using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Alerting.Features;

/// <summary>An alert as stored.</summary>
internal sealed record AlertRecord(
    Guid Id, string Kind, Guid? RuleId, Guid DeviceId, Guid? ZoneId, int? OfflineDevices, string? Metric, string Severity, string Summary, AlertState State,
    DateTimeOffset OpenedAt, DateTimeOffset? AcknowledgedAt, DateTimeOffset? ResolvedAt, string? ResolvedBy, int Version)
{
    public static readonly string Columns = ColumnsOf(null);

    /// <summary>The columns an alert is read from, of the table named <paramref name="alias"/> in the query when given.</summary>
    public static string ColumnsOf(string? alias)
    {
        var t = alias is null ? "" : alias + ".";
        return $"{t}id, {t}kind, {t}rule_id, {t}device_id, {t}zone_id, cardinality({t}offline_devices), {t}metric, {t}severity, {t}summary, {t}status, "
            + $"{t}opened_at, {t}acknowledged_at, {t}resolved_at, {t}resolved_by, {t}version";
    }

    public static AlertRecord Read(NpgsqlDataReader reader) => Read(reader, 0);

    /// <summary>The alert in the row's columns from <paramref name="first"/> on (<see cref="ColumnsOf"/>).</summary>
    public static AlertRecord Read(NpgsqlDataReader reader, int first)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var i = first;
        return new(
            reader.GetGuid(i), reader.GetString(i + 1), reader.IsDBNull(i + 2) ? null : reader.GetGuid(i + 2), reader.GetGuid(i + 3),
            reader.IsDBNull(i + 4) ? null : reader.GetGuid(i + 4), reader.IsDBNull(i + 5) ? null : reader.GetInt32(i + 5), reader.IsDBNull(i + 6) ? null : reader.GetString(i + 6),
            reader.GetString(i + 7), reader.GetString(i + 8), AlertLifecycle.ParseState(reader.GetString(i + 9)), reader.GetFieldValue<DateTimeOffset>(i + 10),
            reader.IsDBNull(i + 11) ? null : reader.GetFieldValue<DateTimeOffset>(i + 11), reader.IsDBNull(i + 12) ? null : reader.GetFieldValue<DateTimeOffset>(i + 12),
            reader.IsDBNull(i + 13) ? null : reader.GetString(i + 13), reader.GetInt32(i + 14));
    }

    public Alert ToContract() => new()
    {
        Id = Id, Kind = WireNames.Parse<AlertKind>(Kind), Rule_id = RuleId, Device_id = DeviceId, Zone_id = ZoneId, Offline_devices = OfflineDevices, Metric = Metric,
        Severity = WireNames.Parse<AlertSeverity>(Severity), Summary = Summary, Status = WireNames.Parse<AlertStatus>(State.Name()),
        Allowed_verbs = AlertLifecycle.AllowedVerbs(State).Select(v => WireNames.Parse<Canopy.Contracts.AlertVerb>(v.Name())).ToList(),
        Opened_at = OpenedAt, Acknowledged_at = AcknowledgedAt, Resolved_at = ResolvedAt, Version = Version,
    };

    public AlertEvent ToEvent() => new()
    {
        Alert_id = Id, Kind = WireNames.Parse<AlertKind>(Kind), Rule_id = RuleId, Device_id = DeviceId, Zone_id = ZoneId, Offline_devices = OfflineDevices, Metric = Metric,
        Severity = WireNames.Parse<AlertSeverity>(Severity), Summary = Summary, Status = WireNames.Parse<AlertStatus>(State.Name()),
        Opened_at = OpenedAt, Resolved_by = ResolvedBy, Version = Version,
    };
}

/// <summary>Alerts: list the most recently opened first, read, acknowledge and resolve.</summary>
internal sealed class Alerts(AlertingDatabase database, MessageWriter messages, TimeProvider time)
{
    public const string Raised = "alert.raised";
    public const string Acknowledged = "alert.acknowledged";
    public const string Resolved = "alert.resolved";
    public const int EventVersion = 1;

    public async Task<AlertPage> ListAsync(Guid tenantId, AlertStatus? status, string? cursor, int limit, CancellationToken cancellationToken)
    {
        var (page, next) = await database.NewestFirstAsync(tenantId, "alerting.alerts", AlertRecord.Columns, AlertRecord.Read, a => a.Id,
            status is { } s ? WireNames.Of(s) : null, cursor, limit, cancellationToken).ConfigureAwait(false);
        return new AlertPage { Data = page.Select(a => a.ToContract()).ToList(), Has_more = next is not null, Next_cursor = next };
    }

    public Task<AlertRecord> GetAsync(Guid tenantId, Guid alertId, CancellationToken cancellationToken) =>
        database.FindAsync(tenantId, "alerting.alerts", AlertRecord.Columns, AlertRecord.Read, alertId, "alert", cancellationToken);

    /// <summary>Acknowledges or resolves the alert by hand: If-Match on its version, 409 naming the state when the verb does not apply (it may have resolved by itself).</summary>
    public async Task<AlertRecord> ApplyAsync(Actor actor, Guid alertId, string? ifMatch, Domain.AlertVerb verb, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var now = time.GetUtcNow();
        await using var tx = await database.ChangeAsync(actor.TenantId, cancellationToken).ConfigureAwait(false);
        await using var find = tx.Command($"SELECT {AlertRecord.Columns} FROM alerting.alerts WHERE id = $1 FOR UPDATE", alertId);
        var alert = (await PostgresTransaction.ReadAllAsync(find, AlertRecord.Read, cancellationToken).ConfigureAwait(false)).SingleOrDefault()
            ?? throw AlertingDatabase.NotFound("alert");
        EntityTag.RequireMatch(ifMatch, alert.Version);
        AlertState next;
        try
        {
            next = AlertLifecycle.Apply(alert.State, verb);
        }
        catch (IllegalAlertTransitionException ex)
        {
            throw AlertingDatabase.IllegalVerb(ex.Message, ex.Current.Name(), ex.Allowed.Select(v => v.Name()));
        }

        var changed = verb == Domain.AlertVerb.Acknowledge
            ? alert with { State = next, AcknowledgedAt = now, Version = alert.Version + 1 }
            : alert with { State = next, ResolvedAt = now, ResolvedBy = "member", Version = alert.Version + 1 };
        await tx.ExecuteAsync("""
            UPDATE alerting.alerts
               SET status = $2, acknowledged_at = $3, acknowledged_by = CASE WHEN $7 THEN $6 ELSE acknowledged_by END,
                   resolved_at = $4, resolved_by = $5, version = $8
             WHERE id = $1
            """, cancellationToken, alertId, next.Name(), PostgresTransaction.Nullable(changed.AcknowledgedAt, NpgsqlDbType.TimestampTz),
            PostgresTransaction.Nullable(changed.ResolvedAt, NpgsqlDbType.TimestampTz), PostgresTransaction.Nullable(changed.ResolvedBy, NpgsqlDbType.Text),
            PostgresTransaction.Nullable(actor.UserId, NpgsqlDbType.Uuid), verb == Domain.AlertVerb.Acknowledge, changed.Version).ConfigureAwait(false);
        await AppendAsync(messages, tx.Connection, tx.Transaction, verb == Domain.AlertVerb.Acknowledge ? Acknowledged : Resolved, changed, actor.TenantId, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed;
    }

    public static Task<Guid> AppendAsync(
        MessageWriter messages, NpgsqlConnection connection, NpgsqlTransaction transaction, string type, AlertRecord alert, Guid tenantId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(alert);
        return messages.AppendEventAsync(connection, transaction, type, EventVersion, alert.ToEvent(), tenantId, alert.Id, cancellationToken);
    }
}
