using Canopy.Platform.Idempotency;
using Canopy.Platform.Postgres;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Identity.Features;

/// <summary>Transactions of the Identity module, always bound to one tenant for row-level security.</summary>
internal sealed class IdentityDatabase(PostgresDataSources dataSources, IdempotencyClaims idempotency)
{
    public const string UniqueViolation = "23505";

    /// <summary>
    /// Which tenant a secret-derived key belongs to (an e-mail's blind index, a refresh or
    /// invitation token's hash), before any tenant is known. Null when it matches nothing.
    /// </summary>
    public async Task<Guid?> TenantOfAsync(string kind, byte[] key, CancellationToken cancellationToken)
    {
        await using var command = dataSources.Primary.CreateCommand("SELECT identity.tenant_of($1, $2)");
        command.Parameters.Add(new NpgsqlParameter { Value = kind });
        command.Parameters.Add(new NpgsqlParameter { Value = key, NpgsqlDbType = NpgsqlDbType.Bytea });
        var result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return result is Guid tenant ? tenant : null;
    }

    /// <summary>A transaction bound to a tenant; with none, it sees no tenant's rows (the security log's chain of unknown accounts).</summary>
    public Task<PostgresTransaction> BeginAsync(Guid? tenantId, CancellationToken cancellationToken) =>
        PostgresTransaction.BeginAsync(dataSources.Primary, tenantId, cancellationToken);

    /// <summary>A change: bound to the tenant, with the request's idempotency key claimed first, so a key that already took effect stops before any effect or integrity check.</summary>
    public Task<PostgresTransaction> ChangeAsync(Guid tenantId, CancellationToken cancellationToken) =>
        idempotency.BeginChangeAsync(dataSources.Primary, tenantId, cancellationToken);

    /// <summary>
    /// Serialises membership changes of one organisation (the last-owner rule depends on all of
    /// them). NO KEY UPDATE: rows that only reference the tenant (sign-ins, log entries) keep
    /// being written meanwhile, so this lock never waits on, or deadlocks with, them.
    /// </summary>
    public static async Task LockTenantAsync(PostgresTransaction tx, Guid tenantId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tx);
        await using var command = tx.Command("SELECT 1 FROM identity.tenants WHERE id = $1 FOR NO KEY UPDATE", tenantId);
        await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    public static async Task<int> OwnerCountAsync(PostgresTransaction tx, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tx);
        await using var command = tx.Command("SELECT count(*) FROM identity.memberships WHERE role = 'owner' AND NOT is_deleted");
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static bool IsUniqueViolation(PostgresException ex, string constraint) =>
        ex.SqlState == UniqueViolation && ex.ConstraintName == constraint;

}
