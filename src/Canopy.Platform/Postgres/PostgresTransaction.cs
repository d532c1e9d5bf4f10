using Canopy.Platform.Tenancy;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Platform.Postgres;

/// <summary>
/// A connection and its transaction, bound to a tenant for row-level security, disposed
/// together; with positional commands whose arguments are plain values or ready parameters.
/// </summary>
public sealed class PostgresTransaction(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
{
    public NpgsqlConnection Connection { get; } = connection;

    public NpgsqlTransaction Transaction { get; } = transaction;

    /// <summary>Begins a transaction bound to the tenant (none: no tenant's rows are visible).</summary>
    public static async Task<PostgresTransaction> BeginAsync(NpgsqlDataSource dataSource, Guid? tenantId, CancellationToken cancellationToken)
    {
        var (connection, transaction) = await TenantSession.BeginAsync(dataSource, tenantId, cancellationToken).ConfigureAwait(false);
        return new PostgresTransaction(connection, transaction);
    }

    public NpgsqlCommand Command(string sql, params object?[] arguments)
    {
        var command = new NpgsqlCommand(sql, Connection, Transaction);
        foreach (var argument in arguments)
        {
            command.Parameters.Add(Argument(argument));
        }

        return command;
    }

    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params object?[] arguments)
    {
        await using var command = Command(sql, arguments);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>From here on the transaction sees every tenant's rows (platform code only, after its own checks).</summary>
    public Task EnterPlatformScopeAsync(CancellationToken cancellationToken) =>
        ExecuteAsync("SELECT set_config('app.scope', 'platform', true)", cancellationToken);

    public Task CommitAsync(CancellationToken cancellationToken) => Transaction.CommitAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await Transaction.DisposeAsync().ConfigureAwait(false);
        await Connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// One read for a tenant in one round trip: the tenant setting and the query travel in one
    /// batch, which PostgreSQL runs as one implicit transaction (everything up to the protocol's
    /// Sync), so the transaction-local tenant applies to the query and to nothing after it.
    /// For hot single reads; anything that writes or reads twice uses <see cref="BeginAsync"/>.
    /// </summary>
    public static async Task<List<T>> ReadAsync<T>(
        NpgsqlDataSource dataSource, Guid tenantId, string sql, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken, params object?[] arguments)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(read);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection);
        var tenant = new NpgsqlBatchCommand($"SELECT set_config('{TenantSession.Setting}', $1, true)");
        tenant.Parameters.Add(new NpgsqlParameter { Value = tenantId.ToString() });
        var query = new NpgsqlBatchCommand(sql);
        foreach (var argument in arguments)
        {
            query.Parameters.Add(Argument(argument));
        }

        batch.BatchCommands.Add(tenant);
        batch.BatchCommands.Add(query);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        return await RowsAsync(reader, read, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every row a command returns, read with <paramref name="read"/>.</summary>
    public static async Task<List<T>> ReadAllAsync<T>(NpgsqlCommand command, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await RowsAsync(reader, read, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<T>> RowsAsync<T>(NpgsqlDataReader reader, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(read);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    /// <summary>A positional argument: a ready parameter as it is, anything else as its value (null as SQL NULL).</summary>
    public static NpgsqlParameter Argument(object? value) => value as NpgsqlParameter ?? new NpgsqlParameter { Value = value ?? DBNull.Value };

    /// <summary>A nullable value with its type, for a positional parameter.</summary>
    public static NpgsqlParameter Nullable(object? value, NpgsqlDbType type) => new() { Value = value ?? DBNull.Value, NpgsqlDbType = type };
}
