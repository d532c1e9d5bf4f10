using Canopy.Fleet.Domain;
using Canopy.Platform.Domain;

namespace Canopy.Fleet.Tests.Domain;

public sealed class RuleTests
{
    [Theory]
    [InlineData(18, 26, false)]
    [InlineData(18, 18, false)]
    [InlineData(-40, 85, false)]
    [InlineData(26, 18, true)]
    [InlineData(-40.01, 20, true)]
    [InlineData(20, 85.01, true)]
    public void Given_a_temperature_target_Then_it_must_be_ordered_and_physically_possible(double min, double max, bool broken) =>
        Assert.Equal(broken, new TargetRangeMustBePlausibleRule(MetricKind.TemperatureC, min, max).IsBroken());

    [Fact]
    public void Given_an_inverted_range_Then_the_message_names_the_metric_and_both_ends()
    {
        var rule = new TargetRangeMustBePlausibleRule(MetricKind.HumidityPct, 80, 60);

        Assert.Equal("The humidity_pct target's min (80) is above its max (60).", rule.Message);
    }

    [Fact]
    public void Given_metrics_a_model_does_not_report_Then_the_rule_names_them_and_what_the_model_reports()
    {
        var rule = new DeviceMetricsMustBeOfItsModelRule(["light_ppfd", "co2_ppm"], ["light_ppfd"], "apogee-sq-520");

        Assert.True(rule.IsBroken());
        Assert.Equal("Model apogee-sq-520 does not report co2_ppm; it reports light_ppfd.", rule.Message);
        Assert.False(new DeviceMetricsMustBeOfItsModelRule(["light_ppfd"], ["light_ppfd"], "apogee-sq-520").IsBroken());
    }

    [Theory]
    [InlineData("Europe/Amsterdam", false)]
    [InlineData("America/Argentina/Buenos_Aires", false)]
    [InlineData("UTC", false)]
    [InlineData("Mars/Olympus_Mons", true)]
    [InlineData("W. Europe Standard Time", true)]
    [InlineData("", true)]
    public void Given_a_time_zone_Then_only_an_iana_name_is_known(string zone, bool broken) =>
        Assert.Equal(broken, new TimeZoneMustBeKnownRule(zone).IsBroken());

    [Fact]
    public void Given_the_metrics_Then_each_has_the_physical_range_the_spec_documents()
    {
        Assert.Equal(
            ["temperature_c -40…85", "humidity_pct 0…100", "soil_moisture_pct 0…100", "co2_ppm 0…10000", "light_ppfd 0…3000", "battery_v 0…15"],
            MetricKind.All.Select(m => $"{m.Name} {m.Min}…{m.Max}"));
    }
}
