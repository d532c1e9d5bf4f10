using Canopy.Api.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Canopy.Api.Tests.Kernel;

public sealed class DataConventionTests : IAsyncLifetime
{
    private readonly KernelServices _kernel = new();
    private readonly Guid _tenant = Guid.CreateVersion7();
    private readonly Guid _actor = Guid.CreateVersion7();

    public Task InitializeAsync() => TestDatabase.EnsureMigratedAsync();

    public Task DisposeAsync() => _kernel.DisposeAsync().AsTask();

    [Fact]
    public async Task Given_a_new_row_Then_id_audit_fields_version_and_tenant_are_set_by_the_platform()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var item = new SampleItem { Name = "North greenhouse" };
        var (scope, db) = _kernel.For(_tenant, _actor);
        await using (scope)
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            db.SampleItems.Add(item);
            await db.SaveChangesAsync();
            await tx.CommitAsync();
        }

        Assert.Equal(7, item.Id.Version);
        Assert.Equal(_tenant, item.TenantId);
        Assert.Equal(_actor, item.CreatedBy);
        Assert.Equal(1, item.Version);
        var stored = await ReadAsync(item.Id);
        Assert.NotNull(stored);
        Assert.Equal(TimeSpan.Zero, stored.CreatedAt.Offset);
        Assert.InRange(stored.CreatedAt, before, DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(stored.CreatedAt, stored.UpdatedAt);
    }

    [Fact]
    public async Task Given_a_save_without_an_explicit_transaction_Then_it_still_runs_for_the_tenant()
    {
        var item = new SampleItem { Name = "Saved alone" };
        var (scope, db) = _kernel.For(_tenant, _actor);
        await using (scope)
        {
            db.SampleItems.Add(item);
            await db.SaveChangesAsync();
        }

        Assert.Equal(_tenant, (await ReadAsync(item.Id))!.TenantId);
    }

    [Fact]
    public async Task Given_an_update_Then_the_version_grows_by_one_and_creation_fields_stay()
    {
        var id = await CreateAsync("Seedlings");
        var created = await ReadAsync(id);

        var (scope, db) = _kernel.For(_tenant, Guid.CreateVersion7());
        await using (scope)
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            var item = await db.SampleItems.SingleAsync(i => i.Id == id);
            item.Name = "Seedlings, east";
            await db.SaveChangesAsync();
            await tx.CommitAsync();
        }

        var updated = await ReadAsync(id);
        Assert.Equal(2, updated!.Version);
        Assert.Equal(created!.CreatedAt, updated.CreatedAt);
        Assert.Equal(created.CreatedBy, updated.CreatedBy);
        Assert.True(updated.UpdatedAt >= created.UpdatedAt);
    }

    [Fact]
    public async Task Given_two_writers_of_the_same_version_Then_the_second_is_refused_as_a_concurrency_conflict()
    {
        var id = await CreateAsync("Propagation");
        var (scopeA, dbA) = _kernel.For(_tenant, _actor);
        var (scopeB, dbB) = _kernel.For(_tenant, _actor);
        await using (scopeA)
        await using (scopeB)
        {
            await using var txA = await dbA.Database.BeginTransactionAsync();
            var a = await dbA.SampleItems.SingleAsync(i => i.Id == id);
            await txA.CommitAsync();
            await using var txB = await dbB.Database.BeginTransactionAsync();
            var b = await dbB.SampleItems.SingleAsync(i => i.Id == id);
            await txB.CommitAsync();

            a.Name = "Propagation A";
            await using (var write = await dbA.Database.BeginTransactionAsync())
            {
                await dbA.SaveChangesAsync();
                await write.CommitAsync();
            }

            b.Name = "Propagation B";
            await using var late = await dbB.Database.BeginTransactionAsync();
            await Assert.ThrowsAsync<DbUpdateConcurrencyException>(() => dbB.SaveChangesAsync());
        }

        Assert.Equal("Propagation A", (await ReadAsync(id))!.Name);
    }

    [Fact]
    public async Task Given_a_delete_Then_the_row_is_kept_flagged_and_hidden_from_queries()
    {
        var id = await CreateAsync("To be archived");
        await DeleteAsync(id);

        var (scope2, db2) = _kernel.For(_tenant);
        await using (scope2)
        {
            await using var tx = await db2.Database.BeginTransactionAsync();
            Assert.False(await db2.SampleItems.AnyAsync(i => i.Id == id));
            var raw = await db2.SampleItems.IgnoreQueryFilters().SingleAsync(i => i.Id == id);
            Assert.True(raw.IsDeleted);
            Assert.Equal(2, raw.Version);
        }
    }

    [Fact]
    public async Task Given_a_name_taken_in_the_tenant_Then_the_database_refuses_a_duplicate_but_allows_it_after_soft_delete()
    {
        var id = await CreateAsync("Unique bench");
        var duplicate = await Assert.ThrowsAsync<DbUpdateException>(() => CreateAsync("Unique bench"));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, (duplicate.InnerException as PostgresException)?.SqlState);

        await DeleteAsync(id);

        Assert.NotEqual(id, await CreateAsync("Unique bench"));
    }

    [Fact]
    public async Task Given_a_name_longer_than_the_check_allows_Then_the_database_refuses_it()
    {
        var tooLong = await Assert.ThrowsAsync<DbUpdateException>(() => CreateAsync(new string('x', 121)));
        Assert.Equal(PostgresErrorCodes.CheckViolation, (tooLong.InnerException as PostgresException)?.SqlState);
        Assert.NotEqual(Guid.Empty, await CreateAsync(new string('x', 120)));
    }

    private async Task<Guid> CreateAsync(string name)
    {
        var (scope, db) = _kernel.For(_tenant, _actor);
        await using (scope)
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            var item = new SampleItem { Name = name };
            db.SampleItems.Add(item);
            await db.SaveChangesAsync();
            await tx.CommitAsync();
            return item.Id;
        }
    }

    private async Task DeleteAsync(Guid id)
    {
        var (scope, db) = _kernel.For(_tenant, _actor);
        await using (scope)
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            db.SampleItems.Remove(await db.SampleItems.SingleAsync(i => i.Id == id));
            await db.SaveChangesAsync();
            await tx.CommitAsync();
        }
    }

    private async Task<SampleItem?> ReadAsync(Guid id)
    {
        var (scope, db) = _kernel.For(_tenant);
        await using (scope)
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            return await db.SampleItems.IgnoreQueryFilters().AsNoTracking().SingleOrDefaultAsync(i => i.Id == id);
        }
    }
}
