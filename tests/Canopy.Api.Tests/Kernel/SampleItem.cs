using Canopy.Platform.Data;
using Microsoft.EntityFrameworkCore;

namespace Canopy.Api.Tests.Kernel;

public sealed class SampleItem : AuditedEntity, ITenantOwned
{
    public Guid TenantId { get; set; }

    public string Name { get; set; } = "";
}

/// <summary>A module-style DbContext over the kernel test table, mapped with the platform's conventions.</summary>
public sealed class SampleDbContext(DbContextOptions<SampleDbContext> options) : DbContext(options)
{
    public DbSet<SampleItem> SampleItems => Set<SampleItem>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema("kernel_tests");
        modelBuilder.Entity<SampleItem>().ToTable("sample_items");
        modelBuilder.ApplyCanopyConventions();
    }
}
