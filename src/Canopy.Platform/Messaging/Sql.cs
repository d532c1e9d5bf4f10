using Npgsql;

namespace Canopy.Platform.Messaging;

/// <summary>
/// Several statements with positional parameters in one round trip (Npgsql refuses several
/// statements in one command once parameters are positional).
/// </summary>
internal static class Sql
{
    public static NpgsqlBatchCommand Statement(string sql, params object[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(Postgres.PostgresTransaction.Argument(parameter));
        }

        return command;
    }

    public static async Task<int> ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken, params NpgsqlBatchCommand[] statements)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var statement in statements)
        {
            batch.BatchCommands.Add(statement);
        }

        return await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
