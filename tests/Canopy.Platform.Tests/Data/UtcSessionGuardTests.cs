using Canopy.Platform.Postgres;

namespace Canopy.Platform.Tests.Data;

public sealed class UtcSessionGuardTests
{
    [Theory]
    [InlineData("UTC")]
    [InlineData("Etc/UTC")]
    [InlineData("utc")]
    public void Given_a_utc_session_Then_it_is_accepted(string zone) => UtcSessionGuard.Verify(zone);

    [Theory]
    [InlineData("Europe/Amsterdam")]
    [InlineData("America/New_York")]
    [InlineData(null)]
    public void Given_another_time_zone_Then_it_is_refused_naming_it(string? zone)
    {
        var error = Assert.Throws<DatabaseTimeZoneException>(() => UtcSessionGuard.Verify(zone));

        Assert.Contains(zone ?? "(unknown)", error.Message, StringComparison.Ordinal);
    }
}
