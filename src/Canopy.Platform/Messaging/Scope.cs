using Canopy.Platform.Tenancy;
using Npgsql;

namespace Canopy.Platform.Messaging;

/// <summary>
/// Transactions of the platform's own workers: they act across tenants (the relay, the job
/// workers, retention), so they set <c>app.scope = 'platform'</c>, which the platform tables'
/// policies honour. Module tables never do: a worker acting for a tenant sets that tenant.
/// </summary>
public static class Scope
{
    public static async Task<(NpgsqlConnection Connection, NpgsqlTransaction Transaction)> BeginPlatformAsync(
        NpgsqlDataSource dataSource, CancellationToken cancellationToken, Guid? tenantId = null)
    {
        var (connection, transaction) = await TenantSession.BeginAsync(dataSource, tenantId, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand("SELECT set_config('app.scope', 'platform', true)", connection, transaction);
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return (connection, transaction);
        }
        catch
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
