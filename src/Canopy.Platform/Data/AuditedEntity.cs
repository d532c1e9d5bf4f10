namespace Canopy.Platform.Data;

/// <summary>
/// The columns every core table carries: a UUIDv7 key, audit times and author, a soft-delete
/// flag, and a version for optimistic concurrency (ETag / If-Match). They are set by
/// <see cref="AuditingInterceptor"/>, never by feature code.
/// </summary>
public abstract class AuditedEntity
{
    public Guid Id { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>The user who created the row; null when the system did.</summary>
    public Guid? CreatedBy { get; set; }

    public bool IsDeleted { get; set; }

    public int Version { get; set; }
}

/// <summary>A row that belongs to one tenant; row-level security keys on <see cref="TenantId"/>.</summary>
public interface ITenantOwned
{
    Guid TenantId { get; set; }
}
