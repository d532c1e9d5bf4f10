using Canopy.Platform.Health;

namespace Canopy.Platform.Tests.Health;

public sealed class ReadinessReportTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(new[] { HealthState.Pass, HealthState.Pass }, HealthState.Pass)]
    [InlineData(new[] { HealthState.Pass, HealthState.Warn }, HealthState.Warn)]
    [InlineData(new[] { HealthState.Warn, HealthState.Fail, HealthState.Pass }, HealthState.Fail)]
    public void Given_checks_Then_the_report_status_is_the_worst_of_them(HealthState[] states, HealthState expected)
    {
        var report = new ReadinessReport(states.Select((s, i) => new HealthCheckOutcome($"c{i}", "datastore", s, Now)).ToList());

        Assert.Equal(expected, report.Status);
        Assert.Equal(states.Count(s => s == HealthState.Fail), report.Failing.Count());
    }

    [Fact]
    public void Given_no_checks_Then_the_report_passes()
    {
        Assert.Equal(HealthState.Pass, new ReadinessReport([]).Status);
    }
}
