using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Platform.Postgres;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Canopy.Api.Tests.Platform;

/// <summary>The streaming standby tools/servers.sh starts, as the service's replica pool reaches it.</summary>
public sealed class ReplicaTests
{
    [Fact]
    public async Task Given_the_replica_pool_Then_it_reads_from_the_standby_refuses_writes_and_sees_a_primary_commit_within_seconds()
    {
        await using var factory = new CanopyApiFactory();
        var pools = factory.Services.GetRequiredService<PostgresDataSources>();
        var marker = Guid.NewGuid().ToString();

        var replicaInRecovery = await ScalarAsync<bool>(pools.Replica, "SELECT pg_is_in_recovery()");
        var primaryInRecovery = await ScalarAsync<bool>(pools.Primary, "SELECT pg_is_in_recovery()");
        var write = await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync<int>(pools.Replica, "CREATE TEMP TABLE refused (id int)"));
        await using (var owner = new NpgsqlConnection(TestServers.PostgresOwnerConnectionString))
        {
            await owner.OpenAsync();
            await using var note = new NpgsqlCommand($"COMMENT ON DATABASE {TestServers.DatabaseName} IS '{marker}'", owner);
            await note.ExecuteNonQueryAsync();
        }

        var started = Stopwatch.GetTimestamp();
        string? seen = null;
        while (seen != marker && Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(10))
        {
            seen = await ScalarAsync<string?>(pools.Replica, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()");
            await Task.Delay(seen == marker ? 0 : 50);
        }

        Assert.True(replicaInRecovery, "the replica pool must reach the standby");
        Assert.False(primaryInRecovery);
        Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, write.SqlState);
        Assert.Equal(marker, seen);
    }

    [Fact]
    public async Task Given_the_replica_up_Then_readiness_reports_its_round_trip_and_lag_and_given_it_unreachable_readiness_only_warns()
    {
        await using var healthy = new CanopyApiFactory();
        await using var orphaned = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:PostgresReplica"] = new NpgsqlConnectionStringBuilder(TestServers.PostgresReplicaConnectionString) { Port = 1, Timeout = 1 }.ConnectionString,
        });

        var up = await ReadinessAsync(healthy);
        var down = await ReadinessAsync(orphaned);

        Assert.Equal((HttpStatusCode.OK, "pass"), (up.Status, up.Body.GetProperty("status").GetString()));
        Assert.Equal("pass", up.Body.GetProperty("checks").GetProperty("postgres-replica:responseTime")[0].GetProperty("status").GetString());
        var lag = up.Body.GetProperty("checks").GetProperty("postgres-replica:lag")[0];
        Assert.Equal(("pass", "s"), (lag.GetProperty("status").GetString(), lag.GetProperty("observedUnit").GetString()));
        Assert.Equal((HttpStatusCode.OK, "warn"), (down.Status, down.Body.GetProperty("status").GetString()));
        var unreachable = down.Body.GetProperty("checks").GetProperty("postgres-replica:responseTime")[0];
        Assert.Equal("warn", unreachable.GetProperty("status").GetString());
        Assert.Contains("fall back to the primary", unreachable.GetProperty("output").GetString(), StringComparison.Ordinal);
        Assert.False(down.Body.GetProperty("checks").TryGetProperty("postgres-replica:lag", out _));
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> ReadinessAsync(CanopyApiFactory factory)
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource source, string sql)
    {
        await using var command = source.CreateCommand(sql);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull or null ? default! : (T)value;
    }
}
