using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Infrastructure;

/// <summary>
/// Hosts the real application in memory against the real test PostgreSQL and Redis. Settings
/// passed in replace the defaults, e.g. to point at a Redis the test stops; services passed in
/// are added after the application's own.
/// </summary>
internal sealed class CanopyApiFactory(
    IReadOnlyDictionary<string, string?>? overrides = null,
    Action<IServiceCollection>? configureServices = null) : WebApplicationFactory<Program>
{
    public string PoolName { get; } = "test_" + Guid.NewGuid().ToString("N")[..12];

    public string Environment { get; init; } = "Test";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        TestDatabase.EnsureMigratedAsync().GetAwaiter().GetResult();
        builder.UseEnvironment(Environment);
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = TestServers.PostgresConnectionString,
            ["ConnectionStrings:PostgresOwner"] = TestServers.PostgresOwnerConnectionString,
            ["ConnectionStrings:PostgresReplica"] = TestServers.PostgresReplicaConnectionString,
            ["ConnectionStrings:Redis"] = TestServers.RedisConnectionString,
            // Each host of the test process gets its own pool name: Npgsql's pool metrics are
            // process-wide and keyed by it.
            ["Postgres:PoolName"] = PoolName,
            // Timing is not under test here; a cold first connection on a busy 2-core machine is slow.
            ["Health:CheckTimeoutMilliseconds"] = "5000",
            ["Health:SlowResponseMilliseconds"] = "5000",
            ["Health:CacheMilliseconds"] = "0",
            // Workers run in the messaging tests, which control them; API hosts here serve only.
            ["Runtime:Role"] = "api",
            // The test database is migrated once per run (TestDatabase); start-up migration is
            // exercised by the real-process tests. Hosts given broken connection strings must
            // not try to grant to the roles those strings name.
            ["Migrations:ApplyAtStartup"] = "false",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        // Added last, so these win over appsettings*.json and the environment (.env.sample).
        builder.ConfigureAppConfiguration((_, configuration) => configuration.AddInMemoryCollection(settings));

        // Program.cs reads the role before the application's configuration is built, where only
        // host settings have arrived; the role decides which workers are registered at all.
        builder.UseSetting("Runtime:Role", settings["Runtime:Role"]);

        if (configureServices is not null)
        {
            builder.ConfigureTestServices(configureServices);
        }
    }
}
