using System.Net;
using Canopy.Platform.Metrics;

namespace Canopy.Platform.Tests.Metrics;

public sealed class MetricsAccessPolicyTests
{
    private static MetricsAccessPolicy Policy(string networks = "127.0.0.0/8,::1/128,10.20.0.0/16", string token = "s3cret-token") =>
        new(new MetricsOptions { AllowedNetworks = networks, ScrapeToken = token });

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("10.20.255.255", true)]
    [InlineData("10.21.0.0", false)]
    [InlineData("192.168.1.10", false)]
    public void Given_an_address_Then_only_allowed_networks_pass_without_token(string address, bool allowed)
    {
        Assert.Equal(allowed, Policy().Allows(IPAddress.Parse(address), authorization: null));
    }

    [Theory]
    [InlineData("Bearer s3cret-token", true)]
    [InlineData("bearer s3cret-token", true)]
    [InlineData("Bearer s3cret-toke", false)]
    [InlineData("Bearer s3cret-token2", false)]
    [InlineData("Basic s3cret-token", false)]
    [InlineData("", false)]
    public void Given_an_outside_address_Then_only_the_exact_token_passes(string authorization, bool allowed)
    {
        Assert.Equal(allowed, Policy().Allows(IPAddress.Parse("203.0.113.9"), authorization));
    }

    [Fact]
    public void Given_no_token_configured_Then_an_empty_bearer_token_does_not_pass()
    {
        Assert.False(Policy(token: "").Allows(null, "Bearer "));
    }

    [Fact]
    public void Given_a_malformed_network_Then_configuration_is_refused_with_the_setting_named()
    {
        var error = Assert.Throws<FormatException>(() => MetricsAccessPolicy.Parse("127.0.0.0/8,not-a-network"));

        Assert.Contains("Metrics__AllowedNetworks", error.Message, StringComparison.Ordinal);
    }
}
