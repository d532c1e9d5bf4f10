using Canopy.Api.Tests.Infrastructure;
using Npgsql;

namespace Canopy.Api.Tests.Kernel;

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
}
