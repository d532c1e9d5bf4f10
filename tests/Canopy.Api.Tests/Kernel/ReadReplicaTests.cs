using Canopy.Api.Tests.Infrastructure;
using Npgsql;

namespace Canopy.Api.Tests.Kernel;

[Collection(Canopy.Api.Tests.Insights.SerialTests.Name)]
public sealed class ReadReplicaTests
{
    [Fact]
    public async Task Given_no_replica_configured_Then_replica_reads_reach_the_same_database_through_their_own_pool()
    {
        await using var kernel = new KernelServices();

        var primary = await IdentityOfAsync(kernel.DataSources.Primary);
        var replica = await IdentityOfAsync(kernel.DataSources.Replica);

        Assert.Equal(primary.Database, replica.Database);
        Assert.Equal("canopy", primary.Application);
        Assert.Equal("canopy-replica", replica.Application);
        Assert.NotSame(kernel.DataSources.Primary, kernel.DataSources.Replica);
    }

    [Fact]
    public async Task Given_a_replica_connection_string_Then_reporting_reads_use_it()
    {
        var replicaConnection = new NpgsqlConnectionStringBuilder(TestServers.PostgresConnectionString) { ApplicationName = "reporting-replica" }.ConnectionString;
        await using var kernel = new KernelServices(new() { ["ConnectionStrings:PostgresReplica"] = replicaConnection });

        var replica = await IdentityOfAsync(kernel.DataSources.Replica);

        Assert.Equal("reporting-replica", replica.Application);
    }

    [Fact]
    public async Task Given_the_standby_as_replica_Then_its_pool_reads_from_the_standby_refuses_writes_and_sees_a_primary_commit_within_seconds()
    {
        await using var kernel = new KernelServices(new() { ["ConnectionStrings:PostgresReplica"] = TestServers.PostgresReplicaConnectionString });
        var marker = Guid.NewGuid().ToString();

        var replicaInRecovery = await ScalarAsync<bool>(kernel.DataSources.Replica, "SELECT pg_is_in_recovery()");
        var primaryInRecovery = await ScalarAsync<bool>(kernel.DataSources.Primary, "SELECT pg_is_in_recovery()");
        var write = await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync<int>(kernel.DataSources.Replica, "CREATE TEMP TABLE refused (id int)"));
        await using (var owner = new NpgsqlConnection(TestServers.PostgresOwnerConnectionString))
        {
            await owner.OpenAsync();
            await using var note = new NpgsqlCommand($"COMMENT ON DATABASE {TestServers.DatabaseName} IS '{marker}'", owner);
            await note.ExecuteNonQueryAsync();
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        string? seen = null;
        while (seen != marker && System.Diagnostics.Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(10))
        {
            seen = await ScalarAsync<string?>(kernel.DataSources.Replica, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()");
            await Task.Delay(seen == marker ? 0 : 50);
        }

        Assert.True(replicaInRecovery, "the replica pool must reach the standby");
        Assert.False(primaryInRecovery);
        Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, write.SqlState);
        Assert.Equal(marker, seen);
    }

    [Fact]
    public async Task Given_a_session_not_in_utc_Then_no_connection_is_handed_out()
    {
        var berlin = new NpgsqlConnectionStringBuilder(TestServers.PostgresConnectionString) { Options = "-c TimeZone=Europe/Berlin" }.ConnectionString;
        await using var kernel = new KernelServices(new() { ["ConnectionStrings:Postgres"] = berlin });

        var error = await Assert.ThrowsAsync<Canopy.Platform.Postgres.DatabaseTimeZoneException>(
            async () => await kernel.DataSources.Primary.OpenConnectionAsync());

        Assert.Equal("Europe/Berlin", error.TimeZone);
    }

    private static async Task<(string Database, string Application)> IdentityOfAsync(NpgsqlDataSource source)
    {
        await using var connection = await source.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT current_database(), current_setting('application_name')", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetString(0), reader.GetString(1));
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource source, string sql)
    {
        await using var command = source.CreateCommand(sql);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull or null ? default! : (T)value;
    }
}
