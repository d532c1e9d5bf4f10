using Canopy.Contracts;
using Canopy.Platform.Data;

namespace Canopy.Fleet.Tests.Features;

public sealed class WireNamesTests
{
    [Fact]
    public void Given_the_generated_enums_Then_each_value_has_its_spec_name_and_reads_back()
    {
        Assert.Equal("temperature_c", WireNames.Of(Metric.Temperature_c));
        Assert.Equal("report-fault", WireNames.Of(DeviceVerb.ReportFault));
        Assert.Equal("DECOMMISSIONED", WireNames.Of(DeviceStatus.DECOMMISSIONED));
        Assert.All(Enum.GetValues<FaultCode>(), code => Assert.Equal(code, WireNames.Parse<FaultCode>(WireNames.Of(code))));
        Assert.All(Enum.GetValues<ZoneKind>(), kind => Assert.Equal(kind, WireNames.Parse<ZoneKind>(WireNames.Of(kind))));
    }

    [Theory]
    [InlineData("Temperature_c")]
    [InlineData("")]
    [InlineData("co2")]
    public void Given_a_name_the_spec_does_not_have_Then_it_is_refused(string name) =>
        Assert.Throws<FormatException>(() => WireNames.Parse<Metric>(name));
}
