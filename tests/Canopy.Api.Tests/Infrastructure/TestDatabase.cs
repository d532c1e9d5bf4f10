using Canopy.Platform.Migrations;
using Microsoft.Extensions.Logging.Abstractions;

namespace Canopy.Api.Tests.Infrastructure;

/// <summary>Brings the test database to the latest migrations (platform, the modules, and the kernel test table) once per run.</summary>
internal static class TestDatabase
{
    public static readonly MigrationSource KernelTests = MigrationSource.FromAssembly("kernel_tests", typeof(TestDatabase).Assembly);

    private static readonly Lazy<Task> Migrated = new(() =>
        new MigrationRunner(
                TestServers.PostgresOwnerConnectionString,
                TestServers.AppRole,
                [MigrationServiceCollectionExtensions.PlatformMigrations, .. Canopy.Api.Modules.Migrations, KernelTests],
                NullLogger<MigrationRunner>.Instance)
            .ApplyAsync(CancellationToken.None));

    public static Task EnsureMigratedAsync() => Migrated.Value;
}
