using Canopy.Api.Tests.Infrastructure;
using Canopy.Platform.Data;
using Canopy.Platform.Observability;
using Canopy.Platform.Postgres;
using Canopy.Platform.Tenancy;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Kernel;

/// <summary>The platform's data services wired as a module would use them, against the test database.</summary>
internal sealed class KernelServices : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    public KernelServices(Dictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = TestServers.PostgresConnectionString,
            ["Postgres:PoolName"] = "kernel_" + Guid.NewGuid().ToString("N")[..10],
        };
        foreach (var (key, value) in settings ?? [])
        {
            values[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton<CanopyMetrics>();
        services.AddSingleton(TimeProvider.System);
        services.AddCanopyPostgres(configuration);
        services.AddScoped<TenantHolder>();
        services.AddScoped<ITenantContext>(sp => sp.GetRequiredService<TenantHolder>().Context);
        services.AddCanopyDbContext<SampleDbContext>();
        _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }

    public PostgresDataSources DataSources => _provider.GetRequiredService<PostgresDataSources>();

    /// <summary>A unit of work acting for the tenant (null: no tenant) and actor.</summary>
    public (AsyncServiceScope Scope, SampleDbContext Db) For(Guid? tenantId, Guid? actorId = null)
    {
        var scope = _provider.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TenantHolder>().Context = new FixedTenantContext(tenantId, actorId);
        return (scope, scope.ServiceProvider.GetRequiredService<SampleDbContext>());
    }

    public ValueTask DisposeAsync() => _provider.DisposeAsync();

    private sealed class TenantHolder
    {
        public ITenantContext Context { get; set; } = new FixedTenantContext(null);
    }
}
