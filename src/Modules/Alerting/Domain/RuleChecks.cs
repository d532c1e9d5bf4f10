using System.Globalization;
using Canopy.Platform.Domain;

namespace Canopy.Alerting.Domain;

/// <summary>What Fleet says of a rule's scope: whether it is live, the metrics its devices report, and the metrics its zone has target ranges for.</summary>
internal sealed record ScopeProfile(bool Live, IReadOnlyCollection<string> Metrics, IReadOnlyCollection<string> TargetedMetrics);

/// <summary>A rule that could not work as asked: the member of the request it is about, and why.</summary>
internal sealed record RuleViolation(string Pointer, string Detail);

/// <summary>A rule as asked for, in the words of the domain.</summary>
internal sealed record RuleDraft(MetricKind Metric, string Operator, double? Threshold, string ScopeKind);

/// <summary>
/// What makes an alert rule one that can fire: a threshold exactly when the operator compares
/// with one, inside the metric's physical range (a threshold no reading can cross never fires);
/// a live scope with a device that reports the metric; and, for `outside_target` on a zone or a
/// device, the zone's target range for the metric.
/// </summary>
internal static class RuleChecks
{
    public const string OutsideTarget = "outside_target";

    public static IReadOnlyList<RuleViolation> Check(RuleDraft rule, ScopeProfile scope)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(scope);
        var violations = new List<RuleViolation>();
        var metric = rule.Metric;
        if (rule.Operator == OutsideTarget && rule.Threshold is not null)
        {
            violations.Add(new("#/threshold", "outside_target compares readings with the zone's target range and takes no threshold: leave threshold out, or compare with gt, gte, lt or lte."));
        }
        else if (rule.Operator != OutsideTarget && rule.Threshold is not { } threshold)
        {
            violations.Add(new("#/threshold", $"{rule.Operator} compares readings with a threshold: give one in {metric.Unit}."));
        }
        else if (rule.Threshold is { } value && !metric.Admits(value))
        {
            violations.Add(new("#/threshold",
                $"{Number(value)} is outside the physical range of {metric.Name} ({Number(metric.Min)}…{Number(metric.Max)} {metric.Unit}): no reading could cross it."));
        }

        if (!scope.Live)
        {
            violations.Add(new("#/scope/id", $"No {rule.ScopeKind} with this id exists in your organisation (archived and decommissioned ones do not count)."));
            return violations;
        }

        if (!scope.Metrics.Contains(metric.Name))
        {
            violations.Add(new("#/metric", scope.Metrics.Count == 0
                ? $"No device of this {rule.ScopeKind} could report {metric.Name}: it has no device yet (register one first)."
                : $"No device of this {rule.ScopeKind} reports {metric.Name}; they report {string.Join(", ", scope.Metrics.Order(StringComparer.Ordinal))}."));
        }
        else if (rule.Operator == OutsideTarget && rule.ScopeKind != "farm" && !scope.TargetedMetrics.Contains(metric.Name))
        {
            violations.Add(new("#/operator",
                $"The {(rule.ScopeKind == "zone" ? "zone" : "device's zone")} has no target range for {metric.Name}: set one (setZoneTargets), or compare with a threshold."));
        }

        return violations;
    }

    private static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);
}
