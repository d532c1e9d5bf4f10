using Canopy.Api.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Canopy.Api.Tests.Platform;

public sealed class ConfigurationTests
{
    [Theory]
    [InlineData("ConnectionStrings:Postgres", "", "ConnectionStrings__Postgres")]
    [InlineData("ConnectionStrings:Postgres", "Host=127.0.0.1;Nonsense Key=1", "ConnectionStrings__Postgres")]
    [InlineData("ConnectionStrings:Redis", "", "ConnectionStrings__Redis")]
    [InlineData("Cursors:Key", "", "Cursors__Key")]
    [InlineData("Cursors:Key", "dG9vLXNob3J0", "Cursors__Key")]
    [InlineData("Metrics:AllowedNetworks", "10.0.0.0/8,not-a-network", "Metrics__AllowedNetworks")]
    [InlineData("Http:TrustedProxies", "proxy.internal", "Http__TrustedProxies")]
    [InlineData("Postgres:MaxPoolSize", "0", "MaxPoolSize")]
    [InlineData("Identity:ActiveSigningKey", "", "Identity__ActiveSigningKey")]
    [InlineData("Identity:ActiveSigningKey", "no_such_key", "Identity__ActiveSigningKey")]
    [InlineData("Identity:SigningKeys:local_2026_11", "not a key", "Identity__SigningKeys__local_2026_11")]
    [InlineData("Identity:ActivePiiKey", "", "Identity__ActivePiiKey")]
    [InlineData("Identity:PiiKeys:pii_2026_11", "dG9vLXNob3J0", "Identity__PiiKeys__pii_2026_11")]
    [InlineData("Identity:BlindIndexKey", "", "Identity__BlindIndexKey")]
    [InlineData("Identity:Issuer", "", "Identity__Issuer")]
    public async Task Given_a_missing_or_malformed_setting_Then_start_up_stops_naming_it(string key, string value, string named)
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { [key] = value, ["Migrations:ApplyAtStartup"] = "false" });

        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());

        var validation = Unwrap<OptionsValidationException>(error);
        Assert.NotNull(validation);
        Assert.Contains(named, string.Join(" ", validation.Failures), StringComparison.Ordinal);
        Assert.DoesNotContain("Password", string.Join(" ", validation.Failures), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Production")]
    [InlineData("Staging")]
    public async Task Given_a_wildcard_cors_origin_outside_development_Then_start_up_stops(string environment)
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["Http:CorsAllowedOrigins"] = "*",
            ["Migrations:ApplyAtStartup"] = "false",
        })
        { Environment = environment };

        var validation = Unwrap<OptionsValidationException>(Assert.ThrowsAny<Exception>(() => factory.CreateClient()));

        Assert.NotNull(validation);
        Assert.Contains("Http__CorsAllowedOrigins", string.Join(" ", validation.Failures), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Faults:FailOperation", "getFarm", "Production")]
    [InlineData("Faults:FailOperation", "getFarm", "Development")]
    [InlineData("Outbound:AllowLoopbackForTests", "true", "Production")]
    [InlineData("Outbound:AllowLoopbackForTests", "true", "Development")]
    public async Task Given_a_test_only_setting_outside_the_test_environment_Then_start_up_stops_naming_it(string setting, string value, string environment)
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?>
        {
            [setting] = value,
            ["Migrations:ApplyAtStartup"] = "false",
        })
        { Environment = environment };

        var validation = Unwrap<OptionsValidationException>(Assert.ThrowsAny<Exception>(() => factory.CreateClient()));

        Assert.NotNull(validation);
        Assert.Contains(setting.Replace(":", "__", StringComparison.Ordinal), string.Join(" ", validation.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_wildcard_cors_origin_in_development_Then_the_service_starts()
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { ["Http:CorsAllowedOrigins"] = "*" }) { Environment = "Development" };

        using var client = factory.CreateClient();

        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync(new Uri("/health/live", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task Given_a_database_session_not_in_utc_Then_start_up_stops_naming_the_time_zone()
    {
        var berlin = new Npgsql.NpgsqlConnectionStringBuilder(TestServers.PostgresConnectionString) { Options = "-c TimeZone=Europe/Berlin" }.ConnectionString;
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = berlin,
            ["Migrations:ApplyAtStartup"] = "false",
        });

        var refused = Unwrap<Canopy.Platform.Postgres.DatabaseTimeZoneException>(Assert.ThrowsAny<Exception>(() => factory.CreateClient()));

        Assert.NotNull(refused);
        Assert.Contains("Europe/Berlin", refused.Message, StringComparison.Ordinal);
    }

    private static T? Unwrap<T>(Exception? error)
        where T : Exception
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is T found)
            {
                return found;
            }

            if (e is AggregateException aggregate && aggregate.InnerExceptions.Select(Unwrap<T>).FirstOrDefault(x => x is not null) is { } inner)
            {
                return inner;
            }
        }

        return null;
    }
}
