using Canopy.Api.Tests.Infrastructure;
using Canopy.Platform.Migrations;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Canopy.Api.Tests.Kernel;

public sealed class MigrationRunnerTests
{
    [Fact]
    public async Task Given_pending_migrations_Then_they_apply_once_with_their_checksums_and_a_rerun_does_nothing()
    {
        var module = UniqueModule();
        var source = Source(module, ("0001_create.sql", $"CREATE SCHEMA {module}; CREATE TABLE {module}.t (id int PRIMARY KEY);"),
                                    ("0002_grant.sql", $"GRANT USAGE ON SCHEMA {module} TO {{{{app_role}}}}; GRANT SELECT ON {module}.t TO {{{{app_role}}}};"));

        var first = await Runner(source).ApplyAsync(CancellationToken.None);
        var second = await Runner(source).ApplyAsync(CancellationToken.None);

        Assert.Equal([1, 2], first.Select(m => m.Version));
        Assert.Empty(second);
        await using var connection = new NpgsqlConnection(TestServers.PostgresOwnerConnectionString);
        await connection.OpenAsync();
        await using var recorded = new NpgsqlCommand("SELECT count(*) FROM canopy_migrations.applied WHERE module = $1 AND length(checksum) = 64", connection);
        recorded.Parameters.Add(new NpgsqlParameter { Value = module });
        Assert.Equal(2L, (long)(await recorded.ExecuteScalarAsync())!);
        // The grant reached the application role, named from configuration.
        await using var app = new NpgsqlConnection(TestServers.PostgresConnectionString);
        await app.OpenAsync();
        await using var select = new NpgsqlCommand($"SELECT count(*) FROM {module}.t", app);
        Assert.Equal(0L, (long)(await select.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Given_an_applied_migration_edited_afterwards_Then_the_run_stops_naming_it()
    {
        var module = UniqueModule();
        await Runner(Source(module, ("0001_create.sql", $"CREATE SCHEMA {module};"))).ApplyAsync(CancellationToken.None);

        var edited = Source(module, ("0001_create.sql", $"CREATE SCHEMA {module}; -- edited"), ("0002_more.sql", "SELECT 1;"));
        var error = await Assert.ThrowsAsync<MigrationChecksumException>(() => Runner(edited).ApplyAsync(CancellationToken.None));

        Assert.Contains($"{module}/0001_create.sql", error.Message, StringComparison.Ordinal);
        await using var connection = new NpgsqlConnection(TestServers.PostgresOwnerConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM canopy_migrations.applied WHERE module = $1", connection);
        count.Parameters.Add(new NpgsqlParameter { Value = module });
        Assert.Equal(1L, (long)(await count.ExecuteScalarAsync())!); // 0002 was not applied past the broken one
    }

    [Fact]
    public async Task Given_a_failing_migration_Then_it_leaves_nothing_behind_and_is_not_recorded()
    {
        var module = UniqueModule();
        var source = Source(module, ("0001_broken.sql", $"CREATE SCHEMA {module}; CREATE TABLE {module}.t (id int); SELECT 1/0;"));

        await Assert.ThrowsAsync<PostgresException>(() => Runner(source).ApplyAsync(CancellationToken.None));

        await using var connection = new NpgsqlConnection(TestServers.PostgresOwnerConnectionString);
        await connection.OpenAsync();
        await using var schema = new NpgsqlCommand("SELECT count(*) FROM pg_namespace WHERE nspname = $1", connection);
        schema.Parameters.Add(new NpgsqlParameter { Value = module });
        Assert.Equal(0L, (long)(await schema.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Given_two_instances_migrating_at_once_Then_each_migration_is_applied_exactly_once()
    {
        var module = UniqueModule();
        var source = Source(module,
            ("0001_create.sql", $"CREATE SCHEMA {module}; CREATE TABLE {module}.counter (n int);"),
            ("0002_insert.sql", $"INSERT INTO {module}.counter VALUES (1);"));

        var results = await Task.WhenAll(Runner(source).ApplyAsync(CancellationToken.None), Runner(source).ApplyAsync(CancellationToken.None));

        Assert.Equal(2, results.Sum(r => r.Count));
        await using var connection = new NpgsqlConnection(TestServers.PostgresOwnerConnectionString);
        await connection.OpenAsync();
        await using var rows = new NpgsqlCommand($"SELECT count(*) FROM {module}.counter", connection);
        Assert.Equal(1L, (long)(await rows.ExecuteScalarAsync())!);
    }

    [Fact]
    public void Given_a_badly_named_file_Then_discovery_refuses_it()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            MigrationRunner.Discover([Source("x", ("create.sql", "SELECT 1;"))]));

        Assert.Contains("NNNN_name.sql", error.Message, StringComparison.Ordinal);
    }

    private static string UniqueModule() => "mt_" + Guid.NewGuid().ToString("N")[..12];

    private static MigrationSource Source(string module, params (string File, string Sql)[] files) =>
        new(module, () => files.Select(f => (f.File, f.Sql)));

    private static MigrationRunner Runner(MigrationSource source) =>
        new(TestServers.PostgresOwnerConnectionString, TestServers.AppRole, [source], NullLogger<MigrationRunner>.Instance);
}
