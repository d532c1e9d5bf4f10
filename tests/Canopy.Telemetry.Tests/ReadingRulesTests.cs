using Canopy.Telemetry.Domain;

namespace Canopy.Telemetry.Tests;

public sealed class ReadingRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Retention = TimeSpan.FromDays(400);

    [Theory]
    [InlineData("temperature_c", -40, 85)]
    [InlineData("humidity_pct", 0, 100)]
    [InlineData("soil_moisture_pct", 0, 100)]
    [InlineData("co2_ppm", 0, 10_000)]
    [InlineData("light_ppfd", 0, 3_000)]
    [InlineData("battery_v", 0, 15)]
    public void Given_values_at_and_just_past_each_end_Then_the_ends_pass_and_each_step_past_is_pointed_at(string metric, double min, double max)
    {
        var readings = new[]
        {
            new IncomingReading(metric, min, Now), new IncomingReading(metric, max, Now),
            new IncomingReading(metric, min - 1e-9, Now), new IncomingReading(metric, max + 1e-9, Now),
        };

        var violations = ReadingRules.CheckValuesAndTimes(readings, Now, Retention);

        Assert.Equal(["#/readings/2/value", "#/readings/3/value"], violations.Select(v => v.Pointer));
        Assert.All(violations, v => Assert.Contains(metric, v.Detail, StringComparison.Ordinal));
    }

    [Fact]
    public void Given_times_at_and_just_past_the_future_tolerance_and_the_retention_edge_Then_only_the_ones_past_are_refused()
    {
        var readings = new[]
        {
            new IncomingReading("temperature_c", 20, Now.AddMinutes(5)),
            new IncomingReading("temperature_c", 20, Now.AddMinutes(5).AddTicks(10)),
            new IncomingReading("temperature_c", 20, Now - Retention),
            new IncomingReading("temperature_c", 20, (Now - Retention).AddTicks(-10)),
        };

        var violations = ReadingRules.CheckValuesAndTimes(readings, Now, Retention);

        Assert.Equal(["#/readings/1/recorded_at", "#/readings/3/recorded_at"], violations.Select(v => v.Pointer));
        Assert.Contains("ahead", violations[0].Detail, StringComparison.Ordinal);
        Assert.Contains("retention", violations[1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_more_bad_readings_than_listed_Then_the_first_20_are_named_in_order()
    {
        var readings = Enumerable.Range(0, 100).Select(i => new IncomingReading("humidity_pct", 101 + i, Now)).ToList();

        var violations = ReadingRules.CheckValuesAndTimes(readings, Now, Retention);

        Assert.Equal(ReadingRules.MaxListed, violations.Count);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"#/readings/{i}/value"), violations.Select(v => v.Pointer));
    }

    [Fact]
    public void Given_a_reading_wrong_in_value_and_time_Then_both_are_named_but_never_more_than_20_in_all()
    {
        var readings = Enumerable.Range(0, 15).Select(_ => new IncomingReading("co2_ppm", -1, Now.AddHours(1))).ToList();

        var violations = ReadingRules.CheckValuesAndTimes(readings, Now, Retention);

        Assert.Equal(ReadingRules.MaxListed, violations.Count);
        Assert.Equal(["#/readings/0/value", "#/readings/0/recorded_at"], violations.Take(2).Select(v => v.Pointer));
    }

    [Fact]
    public void Given_metrics_the_device_does_not_report_Then_each_is_pointed_at_with_what_it_reports()
    {
        var readings = new[] { new IncomingReading("light_ppfd", 400, Now), new IncomingReading("co2_ppm", 500, Now) };

        var violations = ReadingRules.CheckMetricsOfDevice(readings, ["light_ppfd"]);

        var violation = Assert.Single(violations);
        Assert.Equal("#/readings/1/metric", violation.Pointer);
        Assert.Contains("light_ppfd", violation.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_an_unknown_metric_name_Then_it_is_refused_as_no_metric()
    {
        var violation = Assert.Single(ReadingRules.CheckValuesAndTimes([new IncomingReading("wind_kph", 3, Now)], Now, Retention));

        Assert.Equal("#/readings/0/metric", violation.Pointer);
    }
}
