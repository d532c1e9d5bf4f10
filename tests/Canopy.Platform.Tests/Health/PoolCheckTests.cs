using Canopy.Platform.Health;
using Canopy.Platform.Postgres;

namespace Canopy.Platform.Tests.Health;

public sealed class PoolCheckTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(0, 10, HealthState.Pass)]
    [InlineData(7, 10, HealthState.Pass)]
    [InlineData(8, 10, HealthState.Warn)]
    [InlineData(9, 10, HealthState.Warn)]
    [InlineData(10, 10, HealthState.Fail)]
    public void Given_pool_use_Then_the_grade_follows_the_warn_ratio_and_exhaustion(long inUse, long max, HealthState expected)
    {
        var outcome = PoolCheck.Grade("postgres:connections", new PoolUsage(inUse, max - inUse, max), 0.8, Now);

        Assert.Equal(expected, outcome.Status);
        Assert.Equal(inUse, outcome.ObservedValue);
        Assert.Equal("connections", outcome.ObservedUnit);
        Assert.Equal(expected == HealthState.Pass, outcome.Output is null);
    }

    [Fact]
    public void Given_a_pool_not_yet_created_Then_the_check_passes()
    {
        var outcome = PoolCheck.Grade("postgres:connections", new PoolUsage(0, 0, 0), 0.8, Now);

        Assert.Equal(HealthState.Pass, outcome.Status);
    }
}
