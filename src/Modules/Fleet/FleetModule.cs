using Canopy.Fleet.Features;
using Canopy.Platform.Migrations;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// Problem answers for invalid input, binding-source inference: as for every Canopy controller.
[assembly: ApiController]

namespace Canopy.Fleet;

public static class FleetModule
{
    public static MigrationSource Migrations { get; } = MigrationSource.FromAssembly("fleet", typeof(FleetModule).Assembly);

    /// <summary>
    /// The Fleet module: farms, zones, devices and their credentials. The offline sweep runs
    /// where workers run (<paramref name="runWorkers"/>), like the platform's own workers.
    /// </summary>
    public static IServiceCollection AddFleetModule(this IServiceCollection services, IConfiguration configuration, bool runWorkers)
    {
        services.AddOptions<FleetOptions>().Bind(configuration.GetSection(FleetOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<FleetDatabase>();
        services.AddSingleton<Farms>();
        services.AddSingleton<Zones>();
        services.AddSingleton<DeviceModels>();
        services.AddSingleton<Devices>();
        services.AddSingleton<OfflineDetection>();
        services.AddSingleton<Canopy.Platform.Messaging.IEventSubscriber, DeviceSightings>();
        services.AddSingleton(sp => new FleetFeatures(
            sp.GetRequiredService<Farms>(), sp.GetRequiredService<Zones>(), sp.GetRequiredService<DeviceModels>(), sp.GetRequiredService<Devices>()));
        if (runWorkers)
        {
            services.AddHostedService(sp => sp.GetRequiredService<OfflineDetection>());
        }

        services.AddMvcCore().AddApplicationPart(typeof(FleetModule).Assembly);
        return services;
    }
}
