using Canopy.Alerting.Domain;
using Canopy.Platform.Domain;

namespace Canopy.Alerting.Tests;

public sealed class RuleChecksTests
{
    private static readonly ScopeProfile Greenhouse = new(true, ["co2_ppm", "humidity_pct", "temperature_c"], ["temperature_c"]);

    [Theory]
    [InlineData("temperature_c", -40, 85)]
    [InlineData("humidity_pct", 0, 100)]
    [InlineData("co2_ppm", 0, 10_000)]
    public void Given_thresholds_at_and_just_past_each_end_of_the_range_Then_the_ends_pass_and_each_step_past_is_refused(string metric, double min, double max)
    {
        var kind = MetricKind.Named(metric);

        Assert.Empty(RuleChecks.Check(new RuleDraft(kind, "gte", min, "zone"), Greenhouse));
        Assert.Empty(RuleChecks.Check(new RuleDraft(kind, "lte", max, "zone"), Greenhouse));
        var below = Assert.Single(RuleChecks.Check(new RuleDraft(kind, "lt", min - 1e-9, "zone"), Greenhouse));
        var above = Assert.Single(RuleChecks.Check(new RuleDraft(kind, "gt", max + 1e-9, "zone"), Greenhouse));

        Assert.Equal("#/threshold", below.Pointer);
        Assert.Equal("#/threshold", above.Pointer);
        Assert.Contains($"physical range of {metric}", above.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_a_threshold_where_the_operator_takes_none_or_none_where_it_takes_one_Then_the_threshold_is_pointed_at()
    {
        var outside = Assert.Single(RuleChecks.Check(new RuleDraft(MetricKind.TemperatureC, "outside_target", 30, "zone"), Greenhouse));
        var missing = Assert.Single(RuleChecks.Check(new RuleDraft(MetricKind.TemperatureC, "gt", null, "zone"), Greenhouse));

        Assert.Equal("#/threshold", outside.Pointer);
        Assert.Contains("takes no threshold", outside.Detail, StringComparison.Ordinal);
        Assert.Equal("#/threshold", missing.Pointer);
        Assert.Contains("°C", missing.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_a_metric_no_device_of_the_scope_reports_Then_the_metric_is_pointed_at_with_what_they_do_report()
    {
        var violation = Assert.Single(RuleChecks.Check(new RuleDraft(MetricKind.LightPpfd, "gt", 1_500, "zone"), Greenhouse));
        var empty = Assert.Single(RuleChecks.Check(new RuleDraft(MetricKind.LightPpfd, "gt", 1_500, "farm"), new ScopeProfile(true, [], [])));

        Assert.Equal("#/metric", violation.Pointer);
        Assert.Equal("No device of this zone reports light_ppfd; they report co2_ppm, humidity_pct, temperature_c.", violation.Detail);
        Assert.Equal("#/metric", empty.Pointer);
        Assert.Contains("no device yet", empty.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("zone", "humidity_pct", "#/operator")]
    [InlineData("device", "humidity_pct", "#/operator")]
    [InlineData("zone", "temperature_c", null)]
    [InlineData("farm", "humidity_pct", null)]
    public void Given_outside_target_Then_a_zone_or_device_rule_needs_the_zone_s_range_for_the_metric_and_a_farm_rule_does_not(string scope, string metric, string? refused)
    {
        var violations = RuleChecks.Check(new RuleDraft(MetricKind.Named(metric), "outside_target", null, scope), Greenhouse);

        Assert.Equal(refused is null ? [] : [refused], violations.Select(v => v.Pointer));
    }

    [Fact]
    public void Given_a_scope_that_is_not_live_Then_only_its_id_and_the_threshold_are_judged()
    {
        var violations = RuleChecks.Check(new RuleDraft(MetricKind.TemperatureC, "gt", 200, "device"), new ScopeProfile(false, [], []));

        Assert.Equal(["#/threshold", "#/scope/id"], violations.Select(v => v.Pointer));
        Assert.Contains("No device with this id", violations[1].Detail, StringComparison.Ordinal);
    }
}

public sealed class RuleLifecycleTests
{
    [Theory]
    [InlineData("Enabled", "Disable", "Disabled")]
    [InlineData("Disabled", "Enable", "Enabled")]
    public void Given_the_verb_its_state_allows_Then_the_rule_moves(string from, string verb, string to) =>
        Assert.Equal(Enum.Parse<RuleState>(to), RuleLifecycle.Apply(Enum.Parse<RuleState>(from), Enum.Parse<RuleVerb>(verb)));

    [Theory]
    [InlineData("Enabled", "Enable", "The alert rule is ENABLED: it cannot enable. Allowed now: disable.")]
    [InlineData("Disabled", "Disable", "The alert rule is DISABLED: it cannot disable. Allowed now: enable.")]
    public void Given_a_verb_its_state_does_not_allow_Then_the_refusal_names_the_state_and_what_is_allowed(string state, string verb, string message)
    {
        var from = Enum.Parse<RuleState>(state);
        var refusal = Assert.Throws<IllegalRuleTransitionException>(() => RuleLifecycle.Apply(from, Enum.Parse<RuleVerb>(verb)));

        Assert.Equal(message, refusal.Message);
        Assert.Equal(from, refusal.Current);
        Assert.Equal(RuleLifecycle.AllowedVerbs(from), refusal.Allowed);
    }
}

public sealed class AlertLifecycleTests
{
    [Theory]
    [InlineData("Open", "Acknowledge", "Acknowledged")]
    [InlineData("Open", "Resolve", "Resolved")]
    [InlineData("Acknowledged", "Resolve", "Resolved")]
    public void Given_the_verb_its_state_allows_Then_the_alert_moves(string from, string verb, string to) =>
        Assert.Equal(Enum.Parse<AlertState>(to), AlertLifecycle.Apply(Enum.Parse<AlertState>(from), Enum.Parse<AlertVerb>(verb)));

    [Theory]
    [InlineData("Acknowledged", "Acknowledge", "The alert is ACKNOWLEDGED: it cannot acknowledge. Allowed now: resolve.")]
    [InlineData("Resolved", "Acknowledge", "The alert is RESOLVED, which is final: it cannot acknowledge.")]
    [InlineData("Resolved", "Resolve", "The alert is RESOLVED, which is final: it cannot resolve.")]
    public void Given_a_verb_its_state_does_not_allow_Then_the_refusal_names_the_state(string state, string verb, string message)
    {
        var refusal = Assert.Throws<IllegalAlertTransitionException>(() => AlertLifecycle.Apply(Enum.Parse<AlertState>(state), Enum.Parse<AlertVerb>(verb)));

        Assert.Equal(message, refusal.Message);
        Assert.Equal(AlertLifecycle.AllowedVerbs(Enum.Parse<AlertState>(state)), refusal.Allowed);
    }

    [Theory]
    [InlineData("battery_low", "warning")]
    [InlineData("sensor_failure", "critical")]
    [InlineData("water_ingress", "critical")]
    public void Given_a_fault_code_Then_only_a_low_battery_is_a_warning(string code, string severity) =>
        Assert.Equal(severity, AlertLifecycle.FaultSeverity(code));

    [Fact]
    public void Given_the_longest_serial_code_and_note_Then_the_summary_fits_its_column_and_ends_the_note_with_an_ellipsis()
    {
        var serial = new string('S', 64);
        var summary = AlertLifecycle.FaultSummary(serial, "calibration_drift", new string('n', 500));
        var shortOne = AlertLifecycle.FaultSummary("SN-1", "other", "Loose cable");

        Assert.Equal(AlertLifecycle.MaxSummary, summary.Length);
        Assert.EndsWith("n…).", summary, StringComparison.Ordinal);
        Assert.StartsWith($"Device {serial} reports a fault: calibration_drift (", summary, StringComparison.Ordinal);
        Assert.Equal("Device SN-1 reports a fault: other (Loose cable).", shortOne);
    }

    [Fact]
    public void Given_a_zone_s_silence_Then_one_device_is_a_warning_several_are_critical_and_the_summary_names_the_first_and_its_last_reading()
    {
        var seen = new DateTimeOffset(2026, 12, 3, 9, 41, 0, TimeSpan.Zero);

        Assert.Equal(("warning", "critical", "critical"), (AlertLifecycle.OfflineSeverity(1), AlertLifecycle.OfflineSeverity(2), AlertLifecycle.OfflineSeverity(40)));
        Assert.Equal("Device SN-7 stopped reporting (last reading 2026-12-03 09:41 UTC); other devices of its zone that go silent join this alert.",
            AlertLifecycle.OfflineSummary("SN-7", seen));
        Assert.StartsWith("Device SN-7 stopped reporting;", AlertLifecycle.OfflineSummary("SN-7", null), StringComparison.Ordinal);
    }
}
