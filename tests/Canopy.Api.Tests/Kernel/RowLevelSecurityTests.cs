using Canopy.Api.Tests.Infrastructure;
using Canopy.Platform.Tenancy;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Canopy.Api.Tests.Kernel;

public sealed class RowLevelSecurityTests : IAsyncLifetime
{
    private readonly KernelServices _kernel = new();
    private readonly Guid _tenantA = Guid.CreateVersion7();
    private readonly Guid _tenantB = Guid.CreateVersion7();

    public async Task InitializeAsync()
    {
        await TestDatabase.EnsureMigratedAsync();
        foreach (var (tenant, name) in new[] { (_tenantA, "A1"), (_tenantA, "A2"), (_tenantB, "B1") })
        {
            var (scope, db) = _kernel.For(tenant);
            await using (scope)
            {
                await using var tx = await db.Database.BeginTransactionAsync();
                db.SampleItems.Add(new SampleItem { Name = name });
                await db.SaveChangesAsync();
                await tx.CommitAsync();
            }
        }
    }

    public Task DisposeAsync() => _kernel.DisposeAsync().AsTask();

    [Fact]
    public async Task Given_a_query_without_any_tenant_filter_Then_only_the_current_tenants_rows_come_back()
    {
        var (scope, db) = _kernel.For(_tenantA);
        await using (scope)
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            var rows = await db.SampleItems.IgnoreQueryFilters().ToListAsync();

            Assert.NotEmpty(rows);
            Assert.All(rows, r => Assert.Equal(_tenantA, r.TenantId));
            Assert.Contains(rows, r => r.Name == "A1");
            Assert.DoesNotContain(rows, r => r.TenantId == _tenantB);
        }
    }

    [Fact]
    public async Task Given_no_tenant_set_Then_no_row_is_visible()
    {
        var (scope, db) = _kernel.For(tenantId: null);
        await using (scope)
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            Assert.Equal(0, await db.SampleItems.IgnoreQueryFilters().CountAsync());
        }

        // Outside a transaction nothing sets the tenant either: raw SQL sees nothing.
        await using var connection = await _kernel.DataSources.Primary.OpenConnectionAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM kernel_tests.sample_items", connection);
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Given_tenant_A_set_Then_the_database_refuses_to_insert_a_row_of_tenant_B()
    {
        var (connection, transaction) = await TenantSession.BeginAsync(_kernel.DataSources.Primary, _tenantA, CancellationToken.None);
        await using (connection)
        await using (transaction)
        {
            await using var insert = new NpgsqlCommand(
                "INSERT INTO kernel_tests.sample_items (id, tenant_id, name, created_at, updated_at, version) VALUES ($1, $2, 'smuggled', now(), now(), 1)",
                connection, transaction);
            insert.Parameters.Add(new NpgsqlParameter { Value = Guid.CreateVersion7() });
            insert.Parameters.Add(new NpgsqlParameter { Value = _tenantB });

            var refused = await Assert.ThrowsAsync<PostgresException>(() => insert.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
        }
    }

    [Fact]
    public async Task Given_tenant_A_set_Then_an_update_cannot_move_a_row_to_tenant_B()
    {
        var (connection, transaction) = await TenantSession.BeginAsync(_kernel.DataSources.Primary, _tenantA, CancellationToken.None);
        await using (connection)
        await using (transaction)
        {
            await using var update = new NpgsqlCommand("UPDATE kernel_tests.sample_items SET tenant_id = $1 WHERE name = 'A1'", connection, transaction);
            update.Parameters.Add(new NpgsqlParameter { Value = _tenantB });

            var refused = await Assert.ThrowsAsync<PostgresException>(() => update.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
        }
    }

    [Fact]
    public async Task Given_the_tenant_of_a_finished_transaction_Then_it_does_not_leak_to_the_next_user_of_the_connection()
    {
        await using (var first = await _kernel.DataSources.Primary.OpenConnectionAsync())
        {
            await using var tx = await first.BeginTransactionAsync();
            await TenantSession.ApplyAsync(first, tx, _tenantA, CancellationToken.None);
            await tx.CommitAsync();
            await using var after = new NpgsqlCommand("SELECT count(*) FROM kernel_tests.sample_items", first);
            Assert.Equal(0L, (long)(await after.ExecuteScalarAsync())!);
        }
    }

    [Fact]
    public async Task Given_the_application_role_Then_it_owns_no_table_and_cannot_bypass_row_level_security()
    {
        await using var connection = await _kernel.DataSources.Primary.OpenConnectionAsync();
        await using var check = new NpgsqlCommand("""
            SELECT (SELECT count(*) FROM pg_tables WHERE tableowner = current_user),
                   (SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user),
                   (SELECT relforcerowsecurity FROM pg_class WHERE oid = 'kernel_tests.sample_items'::regclass)
            """, connection);
        await using var reader = await check.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(0L, reader.GetInt64(0));
        Assert.False(reader.GetBoolean(1));
        Assert.True(reader.GetBoolean(2));
    }

    [Fact]
    public async Task Given_every_table_of_every_module_with_a_tenant_Then_row_level_security_is_enabled_forced_and_has_a_policy()
    {
        await using var connection = await _kernel.DataSources.Primary.OpenConnectionAsync();
        await using var check = new NpgsqlCommand("""
            SELECT coalesce(string_agg(n.nspname || '.' || c.relname, ', '), '')
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
               AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))
            """, connection);
        await using var tenantTables = new NpgsqlCommand("""
            SELECT count(DISTINCT n.nspname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
            """, connection);

        Assert.Equal("", (string)(await check.ExecuteScalarAsync())!);
        // The check covers the modules' schemas, not only this test's: platform, identity, fleet at least.
        Assert.True((long)(await tenantTables.ExecuteScalarAsync())! >= 3);
    }
}
