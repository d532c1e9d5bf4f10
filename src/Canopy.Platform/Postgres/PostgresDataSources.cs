using Npgsql;

namespace Canopy.Platform.Postgres;

/// <summary>
/// The primary (all writes, and reads that must see them) and the replica (reporting and
/// dashboards, which tolerate replication lag). Without a configured replica both point at the
/// same database, through separate pools, so reporting load cannot starve the primary pool.
/// </summary>
public sealed class PostgresDataSources(NpgsqlDataSource primary, NpgsqlDataSource replica) : IAsyncDisposable
{
    public NpgsqlDataSource Primary { get; } = primary;

    public NpgsqlDataSource Replica { get; } = replica;

    public async ValueTask DisposeAsync()
    {
        await Replica.DisposeAsync().ConfigureAwait(false);
        await Primary.DisposeAsync().ConfigureAwait(false);
    }
}
