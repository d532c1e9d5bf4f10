using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Canopy.Api.Tests.Infrastructure;

/// <summary>
/// Hosts the real application in memory against the real test PostgreSQL and Redis. Settings
/// passed in replace the defaults, e.g. to point at a Redis the test stops.
/// </summary>
internal sealed class CanopyApiFactory(IReadOnlyDictionary<string, string?>? overrides = null) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Test");
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = TestServers.PostgresConnectionString,
            ["ConnectionStrings:Redis"] = TestServers.RedisConnectionString,
            ["Health:CheckTimeoutMilliseconds"] = "1000",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
    }
}
