using System.Data.Common;
using Npgsql;

namespace Canopy.Platform.Tenancy;

/// <summary>
/// Sets the tenant of a transaction for row-level security. The setting is transaction-local
/// (<c>set_config(..., true)</c>), so it cannot outlive the transaction or leak to the next user
/// of a pooled connection. With no tenant it is set to the empty string, which the policies
/// compare as NULL: no row is visible and no row can be written.
/// </summary>
public static class TenantSession
{
    public const string Setting = "app.tenant_id";

    public static async Task ApplyAsync(DbConnection connection, DbTransaction transaction, Guid? tenantId, CancellationToken cancellationToken)
    {
        await using var command = SetTenant(connection, transaction, tenantId);
        await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    public static void Apply(DbConnection connection, DbTransaction transaction, Guid? tenantId)
    {
        using var command = SetTenant(connection, transaction, tenantId);
        command.ExecuteScalar();
    }

    private static DbCommand SetTenant(DbConnection connection, DbTransaction transaction, Guid? tenantId)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT set_config('" + Setting + "', @tenant, true)";
        var parameter = command.CreateParameter();
        parameter.ParameterName = "tenant";
        parameter.Value = tenantId?.ToString() ?? "";
        command.Parameters.Add(parameter);
        return command;
    }

    /// <summary>Opens a connection and a transaction bound to the tenant, for raw SQL.</summary>
    public static async Task<(NpgsqlConnection Connection, NpgsqlTransaction Transaction)> BeginAsync(
        NpgsqlDataSource dataSource, Guid? tenantId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await ApplyAsync(connection, transaction, tenantId, cancellationToken).ConfigureAwait(false);
            return (connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
