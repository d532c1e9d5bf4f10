using Canopy.Alerting.Domain;
using Canopy.Alerting.Features;
using Canopy.Contracts;
using Canopy.Platform.Data;
using Canopy.Platform.Problems;
using Canopy.Platform.Tenancy;
using Microsoft.AspNetCore.Mvc;

namespace Canopy.Alerting;

/// <summary>The module's use cases, handed to its controller (public for MVC, the use cases stay internal).</summary>
public sealed class AlertingFeatures
{
    internal AlertingFeatures(AlertRules rules, Alerts alerts)
    {
        Rules = rules;
        Alerts = alerts;
    }

    internal AlertRules Rules { get; }

    internal Alerts Alerts { get; }
}

/// <summary>The operations of the Alerting tag: translate, call the feature, translate.</summary>
/// <remarks>Who may call what comes from x-roles in the spec, enforced before these methods run.</remarks>
public sealed class AlertingController(AlertingFeatures features, ITenantContext tenant) : AlertingControllerBase
{
    private readonly AlertRules _rules = features.Rules;
    private readonly Alerts _alerts = features.Alerts;

    public override async Task<ActionResult<AlertRule>> CreateAlertRule(string idempotency_Key, CreateAlertRuleRequest body, CancellationToken cancellationToken = default)
    {
        var rule = await _rules.CreateAsync(Actor, body, cancellationToken).ConfigureAwait(false);
        return this.CreatedVersioned($"/api/v1/alert-rules/{rule.Id}", rule.Version, rule.ToContract());
    }

    public override async Task<ActionResult<AlertRulePage>> ListAlertRules(string? cursor = null, int? limit = 50, AlertRuleStatus? status = null, CancellationToken cancellationToken = default) =>
        await _rules.ListAsync(Tenant, status, cursor, limit ?? 50, cancellationToken).ConfigureAwait(false);

    public override async Task<ActionResult<AlertRule>> GetAlertRule(Guid alert_rule_id, string? if_None_Match = null, CancellationToken cancellationToken = default)
    {
        var rule = await _rules.GetAsync(Tenant, alert_rule_id, cancellationToken).ConfigureAwait(false);
        return this.ReadVersioned(if_None_Match, rule.Version, rule.ToContract);
    }

    public override async Task<ActionResult<AlertRule>> DisableAlertRule(Guid alert_rule_id, string if_Match, string? idempotency_Key = null, CancellationToken cancellationToken = default) =>
        Answer(await _rules.ApplyAsync(Actor, alert_rule_id, if_Match, RuleVerb.Disable, cancellationToken).ConfigureAwait(false));

    public override async Task<ActionResult<AlertRule>> EnableAlertRule(Guid alert_rule_id, string if_Match, string? idempotency_Key = null, CancellationToken cancellationToken = default) =>
        Answer(await _rules.ApplyAsync(Actor, alert_rule_id, if_Match, RuleVerb.Enable, cancellationToken).ConfigureAwait(false));

    public override async Task<ActionResult<AlertPage>> ListAlerts(string? cursor = null, int? limit = 50, AlertStatus? status = null, CancellationToken cancellationToken = default) =>
        await _alerts.ListAsync(Tenant, status, cursor, limit ?? 50, cancellationToken).ConfigureAwait(false);

    public override async Task<ActionResult<Alert>> GetAlert(Guid alert_id, string? if_None_Match = null, CancellationToken cancellationToken = default)
    {
        var alert = await _alerts.GetAsync(Tenant, alert_id, cancellationToken).ConfigureAwait(false);
        return this.ReadVersioned(if_None_Match, alert.Version, alert.ToContract);
    }

    public override async Task<ActionResult<Alert>> AcknowledgeAlert(Guid alert_id, string if_Match, string? idempotency_Key = null, CancellationToken cancellationToken = default) =>
        Answer(await _alerts.ApplyAsync(Actor, alert_id, if_Match, Domain.AlertVerb.Acknowledge, cancellationToken).ConfigureAwait(false));

    public override async Task<ActionResult<Alert>> ResolveAlert(Guid alert_id, string if_Match, string? idempotency_Key = null, CancellationToken cancellationToken = default) =>
        Answer(await _alerts.ApplyAsync(Actor, alert_id, if_Match, Domain.AlertVerb.Resolve, cancellationToken).ConfigureAwait(false));

    private Guid Tenant => tenant.TenantId ?? throw new ProblemException(ProblemTypes.Unauthenticated, "The access token does not name an organisation.");

    private Actor Actor => new(Tenant, tenant.ActorId);

    private AlertRule Answer(RuleRecord rule) => this.Versioned(rule.Version, rule.ToContract());

    private Alert Answer(AlertRecord alert) => this.Versioned(alert.Version, alert.ToContract());
}
