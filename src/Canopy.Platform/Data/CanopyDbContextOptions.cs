using Canopy.Platform.Postgres;
using Canopy.Platform.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Platform.Data;

public static class CanopyDbContextServiceCollectionExtensions
{
    /// <summary>
    /// Registers a module's DbContext on the primary data source with the platform's
    /// interceptors: tenant-bound transactions and the auditing conventions.
    /// </summary>
    public static IServiceCollection AddCanopyDbContext<TContext>(this IServiceCollection services)
        where TContext : DbContext
    {
        services.AddDbContext<TContext>((sp, options) => options
            .UseNpgsql(sp.GetRequiredService<PostgresDataSources>().Primary)
            .AddInterceptors(
                new TenantTransactionInterceptor(sp.GetRequiredService<ITenantContext>()),
                new AuditingInterceptor(sp.GetRequiredService<ITenantContext>(), sp.GetRequiredService<TimeProvider>())));
        return services;
    }
}
