using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Canopy.Platform.Migrations;

public sealed class MigrationOptions
{
    public const string Section = "Migrations";

    /// <summary>Apply pending migrations when the service starts (before it listens).</summary>
    public bool ApplyAtStartup { get; set; }
}

public static class MigrationServiceCollectionExtensions
{
    /// <summary>The platform's own migrations; modules add theirs after it.</summary>
    public static MigrationSource PlatformMigrations { get; } = MigrationSource.FromAssembly("platform", typeof(MigrationRunner).Assembly);

    /// <summary>
    /// Registers the migration runner: it connects as the owner role
    /// (<c>ConnectionStrings:PostgresOwner</c>) and grants to the role of <c>ConnectionStrings:Postgres</c>.
    /// </summary>
    public static IServiceCollection AddCanopyMigrations(this IServiceCollection services, IConfiguration configuration, params MigrationSource[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        services.AddOptions<MigrationOptions>().Bind(configuration.GetSection(MigrationOptions.Section));
        services.AddSingleton(PlatformMigrations);
        foreach (var module in modules)
        {
            services.AddSingleton(module);
        }

        services.AddSingleton(sp =>
        {
            var owner = configuration.GetConnectionString("PostgresOwner");
            if (string.IsNullOrWhiteSpace(owner))
            {
                throw new InvalidOperationException("ConnectionStrings__PostgresOwner is required to apply migrations (the owner role's connection string).");
            }

            var appRole = new NpgsqlConnectionStringBuilder(configuration.GetConnectionString("Postgres") ?? "").Username
                ?? throw new InvalidOperationException("ConnectionStrings__Postgres must name the application role (Username=...).");
            return new MigrationRunner(owner, appRole, sp.GetServices<MigrationSource>(), sp.GetRequiredService<ILogger<MigrationRunner>>());
        });
        return services;
    }
}
