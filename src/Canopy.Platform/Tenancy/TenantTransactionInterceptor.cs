using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Canopy.Platform.Tenancy;

/// <summary>Every EF Core transaction starts by binding itself to the current tenant.</summary>
public sealed class TenantTransactionInterceptor(ITenantContext tenant) : DbTransactionInterceptor
{
    public override DbTransaction TransactionStarted(DbConnection connection, TransactionEndEventData eventData, DbTransaction result)
    {
        TenantSession.Apply(connection, result, tenant.TenantId);
        return result;
    }

    public override async ValueTask<DbTransaction> TransactionStartedAsync(
        DbConnection connection, TransactionEndEventData eventData, DbTransaction result, CancellationToken cancellationToken = default)
    {
        await TenantSession.ApplyAsync(connection, result, tenant.TenantId, cancellationToken).ConfigureAwait(false);
        return result;
    }
}
