using System.Text.Json;
using Canopy.Alerting.Domain;
using Canopy.Contracts;
using Canopy.Platform.Data;
using Canopy.Platform.Domain;
using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Alerting.Features;

/// <summary>A rule as stored.</summary>
internal sealed record RuleRecord(
    Guid Id, string Name, string Metric, string Operator, double? Threshold, int ForSeconds, string ScopeKind, Guid ScopeId, string Severity,
    RuleState State, int Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public const string Columns = "id, name, metric, operator, threshold, for_seconds, scope_kind, scope_id, severity, status, version, created_at, updated_at";

    public static RuleRecord Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetDouble(4),
        reader.GetInt32(5), reader.GetString(6), reader.GetGuid(7), reader.GetString(8), RuleLifecycle.ParseState(reader.GetString(9)),
        reader.GetInt32(10), reader.GetFieldValue<DateTimeOffset>(11), reader.GetFieldValue<DateTimeOffset>(12));

    public AlertScope Scope => new() { Kind = WireNames.Parse<AlertScopeKind>(ScopeKind), Id = ScopeId };

    public AlertRule ToContract() => new()
    {
        Id = Id, Name = Name, Metric = WireNames.Parse<Metric>(Metric), Operator = WireNames.Parse<AlertOperator>(Operator), Threshold = Threshold,
        For_seconds = ForSeconds, Scope = Scope, Severity = WireNames.Parse<AlertSeverity>(Severity),
        Status = WireNames.Parse<AlertRuleStatus>(State.Name()),
        Allowed_verbs = RuleLifecycle.AllowedVerbs(State).Select(v => WireNames.Parse<AlertRuleVerb>(v.Name())).ToList(),
        Version = Version, Created_at = CreatedAt, Updated_at = UpdatedAt,
    };

    public AlertRuleEvent ToEvent() => new()
    {
        Alert_rule_id = Id, Name = Name, Metric = WireNames.Parse<Metric>(Metric), Operator = WireNames.Parse<AlertOperator>(Operator), Threshold = Threshold,
        For_seconds = ForSeconds, Scope = Scope, Severity = WireNames.Parse<AlertSeverity>(Severity),
        Status = WireNames.Parse<AlertRuleStatus>(State.Name()), Version = Version,
    };
}

/// <summary>Alert rules: create (checked against what Fleet says of the scope), list newest first, read, disable and enable.</summary>
internal sealed class AlertRules(AlertingDatabase database, WatchedMetrics watched, MessageWriter messages, TimeProvider time)
{
    public const string Created = "alert_rule.created";
    public const string Disabled = "alert_rule.disabled";
    public const string Enabled = "alert_rule.enabled";
    private const string NameConstraint = "rules_name";
    private const int EventVersion = 1;

    public async Task<RuleRecord> CreateAsync(Actor actor, CreateAlertRuleRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(request);
        var now = time.GetUtcNow();
        var rule = new RuleRecord(Guid.CreateVersion7(now), request.Name.Trim(), WireNames.Of(request.Metric), WireNames.Of(request.Operator), request.Threshold,
            request.For_seconds, WireNames.Of(request.Scope.Kind), request.Scope.Id, WireNames.Of(request.Severity), RuleState.Enabled, 1, now, now);
        await using var tx = await database.ChangeAsync(actor.TenantId, cancellationToken).ConfigureAwait(false);
        var scope = await ScopeAsync(tx, rule.ScopeKind, rule.ScopeId, cancellationToken).ConfigureAwait(false);
        var violations = RuleChecks.Check(new RuleDraft(MetricKind.Named(rule.Metric), rule.Operator, rule.Threshold, rule.ScopeKind), scope);
        if (violations.Count > 0)
        {
            throw new ProblemException(ProblemTypes.ValidationFailed, $"The rule could not work as asked: {violations[0].Detail}",
                violations.Select(v => new FieldError(v.Detail, Pointer: v.Pointer)).ToList());
        }

        try
        {
            await tx.ExecuteAsync("""
                INSERT INTO alerting.rules (id, tenant_id, name, metric, operator, threshold, for_seconds, scope_kind, scope_id, severity, created_at, updated_at, created_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)
                """, cancellationToken, rule.Id, actor.TenantId, rule.Name, rule.Metric, rule.Operator,
                PostgresTransaction.Nullable(rule.Threshold, NpgsqlDbType.Double), rule.ForSeconds, rule.ScopeKind, rule.ScopeId, rule.Severity, now,
                PostgresTransaction.Nullable(actor.UserId, NpgsqlDbType.Uuid)).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && ex.ConstraintName == NameConstraint)
        {
            throw new ProblemException(ProblemTypes.Conflict, "Your organisation already has an alert rule with this name (names are compared ignoring case); choose another.",
                [new FieldError("This name is taken.", Pointer: "#/name")]);
        }

        await AppendAsync(tx, Created, rule, actor.TenantId, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        watched.Forget(actor.TenantId);
        return rule;
    }

    public async Task<AlertRulePage> ListAsync(Guid tenantId, AlertRuleStatus? status, string? cursor, int limit, CancellationToken cancellationToken)
    {
        var (page, next) = await database.NewestFirstAsync(tenantId, "alerting.rules", RuleRecord.Columns, RuleRecord.Read, r => r.Id,
            status is { } s ? WireNames.Of(s) : null, cursor, limit, cancellationToken).ConfigureAwait(false);
        return new AlertRulePage { Data = page.Select(r => r.ToContract()).ToList(), Has_more = next is not null, Next_cursor = next };
    }

    public Task<RuleRecord> GetAsync(Guid tenantId, Guid ruleId, CancellationToken cancellationToken) =>
        database.FindAsync(tenantId, "alerting.rules", RuleRecord.Columns, RuleRecord.Read, ruleId, "alert rule", cancellationToken);

    /// <summary>Disables or enables the rule: If-Match on its version, a 409 naming the state when the verb does not apply.</summary>
    public async Task<RuleRecord> ApplyAsync(Actor actor, Guid ruleId, string? ifMatch, RuleVerb verb, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var now = time.GetUtcNow();
        await using var tx = await database.ChangeAsync(actor.TenantId, cancellationToken).ConfigureAwait(false);
        // What the rule saw before it was disabled says nothing of the readings after: a re-enabled
        // rule measures its for_seconds afresh. The pairs' rows are locked before the rule's, in the
        // order an evaluation takes them (its pairs, then the rule when it raises), so the two never
        // deadlock, and an evaluation that raises waits for this change and sees the rule disabled.
        await tx.ExecuteAsync("UPDATE alerting.rule_states SET breach_since = NULL, clear_since = NULL, evaluated_until = NULL WHERE rule_id = $1",
            cancellationToken, ruleId).ConfigureAwait(false);
        await using var find = tx.Command($"SELECT {RuleRecord.Columns} FROM alerting.rules WHERE id = $1 FOR NO KEY UPDATE", ruleId);
        var rule = (await PostgresTransaction.ReadAllAsync(find, RuleRecord.Read, cancellationToken).ConfigureAwait(false)).SingleOrDefault() ?? throw AlertingDatabase.NotFound("alert rule");
        EntityTag.RequireMatch(ifMatch, rule.Version);
        RuleState next;
        try
        {
            next = RuleLifecycle.Apply(rule.State, verb);
        }
        catch (IllegalRuleTransitionException ex)
        {
            throw AlertingDatabase.IllegalVerb(ex.Message, ex.Current.Name(), ex.Allowed.Select(v => v.Name()));
        }

        var changed = rule with { State = next, Version = rule.Version + 1, UpdatedAt = now };
        await tx.ExecuteAsync("UPDATE alerting.rules SET status = $2, version = $3, updated_at = $4 WHERE id = $1",
            cancellationToken, ruleId, next.Name(), changed.Version, now).ConfigureAwait(false);
        await AppendAsync(tx, verb == RuleVerb.Disable ? Disabled : Enabled, changed, actor.TenantId, cancellationToken).ConfigureAwait(false);
        if (verb == RuleVerb.Disable)
        {
            // Nothing evaluates a disabled rule, so nothing would ever clear its alerts. Evaluations
            // of this rule have committed (their pairs are locked above) or will find it disabled.
            await using var resolve = tx.Command($"""
                UPDATE alerting.alerts SET status = 'RESOLVED', resolved_at = $2, resolved_by = 'rule_disabled', version = version + 1
                 WHERE rule_id = $1 AND kind = 'threshold' AND status <> 'RESOLVED'
                RETURNING {AlertRecord.Columns}
                """, ruleId, now);
            foreach (var alert in await PostgresTransaction.ReadAllAsync(resolve, AlertRecord.Read, cancellationToken).ConfigureAwait(false))
            {
                await Alerts.AppendAsync(messages, tx.Connection, tx.Transaction, Alerts.Resolved, alert, actor.TenantId, cancellationToken).ConfigureAwait(false);
            }
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        watched.Forget(actor.TenantId);
        return changed;
    }

    /// <summary>What Fleet's public contract says of the scope, in the caller's tenant.</summary>
    private static async Task<ScopeProfile> ScopeAsync(PostgresTransaction tx, string kind, Guid id, CancellationToken cancellationToken)
    {
        await using var command = tx.Command("SELECT live, metrics, targets::text FROM fleet.alert_scope($1, $2)", kind, id);
        var rows = await PostgresTransaction.ReadAllAsync(command, r => new ScopeProfile(
            r.GetBoolean(0), r.GetFieldValue<string[]>(1),
            r.IsDBNull(2) ? [] : JsonDocument.Parse(r.GetString(2)).RootElement.EnumerateObject().Select(p => p.Name).ToArray()), cancellationToken).ConfigureAwait(false);
        return rows[0];
    }

    private Task<Guid> AppendAsync(PostgresTransaction tx, string type, RuleRecord rule, Guid tenantId, CancellationToken cancellationToken) =>
        messages.AppendEventAsync(tx.Connection, tx.Transaction, type, EventVersion, rule.ToEvent(), tenantId, rule.Id, cancellationToken);
}
