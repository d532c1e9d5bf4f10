using Canopy.Alerting.Domain;

namespace Canopy.Alerting.Tests;

public sealed class ThresholdEvaluationTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    private static readonly Condition Above30 = new("gt", 30, null, null);

    private static TimedValue At(int seconds, double value) => new(T0.AddSeconds(seconds), value);

    [Fact]
    public void Given_a_breach_one_second_short_of_for_seconds_Then_nothing_is_raised_and_at_for_seconds_it_is()
    {
        var shortRun = ThresholdEvaluation.Evaluate(Above30, 60, BreachState.None, false, [At(0, 31), At(30, 32), At(59, 33)]);
        var carried = ThresholdEvaluation.Evaluate(Above30, 60, shortRun.Next, false, [At(60, 31)]);

        Assert.Empty(shortRun.Transitions);
        Assert.Equal(new BreachState(T0, null, T0.AddSeconds(59)), shortRun.Next);
        var raised = Assert.Single(carried.Transitions);
        Assert.Equal((true, At(60, 31)), (raised.Raise, raised.Reading));
        Assert.Equal(At(60, 31), carried.LastBreach);
        Assert.True(carried.OpenAfter);
    }

    [Fact]
    public void Given_a_breach_broken_by_one_reading_within_the_rule_Then_the_run_starts_again()
    {
        var outcome = ThresholdEvaluation.Evaluate(Above30, 60, BreachState.None, false, [At(0, 31), At(40, 30), At(50, 31), At(100, 31)]);

        Assert.Empty(outcome.Transitions);
        Assert.Equal(T0.AddSeconds(50), outcome.Next.BreachSince);
    }

    [Fact]
    public void Given_an_open_alert_and_readings_back_within_the_rule_Then_it_extends_until_the_clearance_has_lasted_for_seconds_and_resolves()
    {
        var open = new BreachState(T0, null, T0.AddSeconds(60));

        var extended = ThresholdEvaluation.Evaluate(Above30, 60, open, true, [At(70, 35), At(80, 29), At(139, 28)]);
        var resolved = ThresholdEvaluation.Evaluate(Above30, 60, extended.Next, true, [At(140, 28)]);

        Assert.Empty(extended.Transitions);
        Assert.Equal(At(70, 35), extended.LastBreach);
        Assert.Equal(T0.AddSeconds(80), extended.Next.ClearSince);
        var cleared = Assert.Single(resolved.Transitions);
        Assert.False(cleared.Raise);
        Assert.False(resolved.OpenAfter);
        Assert.Null(resolved.LastBreach);
    }

    [Fact]
    public void Given_for_seconds_zero_Then_the_first_breaking_reading_raises_and_the_first_clear_one_resolves_in_one_batch_in_recorded_order()
    {
        var outcome = ThresholdEvaluation.Evaluate(Above30, 0, BreachState.None, false, [At(20, 31), At(10, 25), At(0, 31)]);

        Assert.Equal([(true, At(0, 31)), (false, At(10, 25)), (true, At(20, 31))], outcome.Transitions.Select(t => (t.Raise, t.Reading)));
        Assert.True(outcome.OpenAfter);
    }

    [Fact]
    public void Given_readings_not_newer_than_the_last_evaluated_Then_they_change_nothing()
    {
        var state = new BreachState(null, T0, T0.AddSeconds(100));

        var outcome = ThresholdEvaluation.Evaluate(Above30, 0, state, false, [At(100, 99), At(50, 99)]);

        Assert.Empty(outcome.Transitions);
        Assert.Equal(state, outcome.Next);
    }

    [Theory]
    [InlineData("gt", 30, false)]
    [InlineData("gte", 30, true)]
    [InlineData("lt", 30, false)]
    [InlineData("lte", 30, true)]
    public void Given_a_value_equal_to_the_threshold_Then_only_the_inclusive_operators_break(string op, double threshold, bool breaks) =>
        Assert.Equal(breaks, new Condition(op, threshold, null, null).Breaks(30));

    [Fact]
    public void Given_an_outside_target_rule_Then_both_ends_of_the_range_are_within_and_a_zone_without_a_range_cannot_be_judged()
    {
        var target = new Condition(RuleChecks.OutsideTarget, null, 18, 26);

        Assert.Equal([true, false, false, true], new[] { 17.9, 18, 26, 26.1 }.Select(target.Breaks));
        Assert.True(target.CanJudge);
        Assert.False(new Condition(RuleChecks.OutsideTarget, null, null, null).CanJudge);
    }

    [Fact]
    public void Given_a_raised_alert_Then_its_summary_names_the_device_value_condition_duration_and_rule()
    {
        var summary = ThresholdEvaluation.Summary("Hot house", "SN-0042", "temperature_c", Above30, 300, 31.25);
        var target = ThresholdEvaluation.Summary("Dry", "SN-7", "humidity_pct", new Condition(RuleChecks.OutsideTarget, null, 55, 80), 0, 40);

        Assert.Equal("Device SN-0042: temperature_c at 31.25 is above 30 for at least 5 min (rule \"Hot house\").", summary);
        Assert.Equal("Device SN-7: humidity_pct at 40 is outside the zone's target 55–80 (rule \"Dry\").", target);
    }
}
