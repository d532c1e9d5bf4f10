using Canopy.Platform.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Canopy.Platform.Data;

/// <summary>
/// Applies the data conventions on save: new rows get a UUIDv7 id, creation time, author,
/// version 1 and the current tenant; changed rows get a new update time and the next version
/// (the old one guards the UPDATE); deleted rows are soft-deleted instead.
/// </summary>
public sealed class AuditingInterceptor(ITenantContext tenant, TimeProvider time) : SaveChangesInterceptor
{
    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        Apply(eventData.Context);
        return result;
    }

    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Apply(eventData.Context);
        return ValueTask.FromResult(result);
    }

    private void Apply(DbContext? context)
    {
        if (context is null)
        {
            return;
        }

        // A lone statement would otherwise run without a transaction, and so without a tenant.
        context.Database.AutoTransactionBehavior = AutoTransactionBehavior.Always;

        var now = time.GetUtcNow();
        foreach (var entry in context.ChangeTracker.Entries<AuditedEntity>())
        {
            switch (entry.State)
            {
                case EntityState.Added:
                    if (entry.Entity.Id == Guid.Empty)
                    {
                        entry.Entity.Id = Guid.CreateVersion7(now);
                    }

                    entry.Entity.CreatedAt = now;
                    entry.Entity.UpdatedAt = now;
                    entry.Entity.CreatedBy = tenant.ActorId;
                    entry.Entity.Version = 1;
                    if (entry.Entity is ITenantOwned owned && owned.TenantId == Guid.Empty && tenant.TenantId is { } tenantId)
                    {
                        owned.TenantId = tenantId;
                    }

                    break;
                case EntityState.Deleted:
                    entry.State = EntityState.Modified;
                    entry.Entity.IsDeleted = true;
                    Touch(entry, now);
                    break;
                case EntityState.Modified:
                    Touch(entry, now);
                    break;
            }
        }
    }

    private static void Touch(Microsoft.EntityFrameworkCore.ChangeTracking.EntityEntry<AuditedEntity> entry, DateTimeOffset now)
    {
        entry.Entity.UpdatedAt = now;
        var version = entry.Property(e => e.Version);
        version.CurrentValue = version.OriginalValue + 1;
        entry.Property(e => e.CreatedAt).IsModified = false;
        entry.Property(e => e.CreatedBy).IsModified = false;
    }
}
