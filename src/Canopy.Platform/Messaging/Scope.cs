using Npgsql;

namespace Canopy.Platform.Messaging;

/// <summary>
/// Transactions of the platform's own workers: they act across tenants (the relay, the job
/// workers, retention), so they set <c>app.scope = 'platform'</c>, which the platform tables'
/// policies honour, and the tenant of the work when it has one (module tables key on it).
/// </summary>
public static class Scope
{
    /// <summary>
    /// Begins a platform-scope transaction. With <paramref name="durable"/> false the commit does
    /// not wait for the WAL flush (<c>synchronous_commit = off</c>): a database crash can lose the
    /// last fraction of a second of such commits, never part of one. Workers use it where a lost
    /// commit only means the work is done again (a job's effects and its completion commit
    /// together, so both or neither are lost); see ADR 0009.
    /// </summary>
    public static async Task<(NpgsqlConnection Connection, NpgsqlTransaction Transaction)> BeginPlatformAsync(
        NpgsqlDataSource dataSource, CancellationToken cancellationToken, Guid? tenantId = null, bool durable = true)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        NpgsqlTransaction? transaction = null;
        try
        {
            transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(
                "SELECT set_config('app.tenant_id', $1, true), set_config('app.scope', 'platform', true), set_config('synchronous_commit', $2, true)",
                connection, transaction);
            command.Parameters.Add(new NpgsqlParameter { Value = tenantId?.ToString() ?? "" });
            command.Parameters.Add(new NpgsqlParameter { Value = durable ? "on" : "off" });
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return (connection, transaction);
        }
        catch
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
            }

            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
