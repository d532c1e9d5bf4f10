using Canopy.Alerting.Features;
using Canopy.Platform.Migrations;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// Problem answers for invalid input, binding-source inference: as for every Canopy controller.
[assembly: ApiController]

namespace Canopy.Alerting;

public static class AlertingModule
{
    public static MigrationSource Migrations { get; } = MigrationSource.FromAssembly("alerting", typeof(AlertingModule).Assembly);

    /// <summary>
    /// The Alerting module: alert rules on the readings of a farm, a zone or a device, and alerts
    /// (raised by rules from the feed of stored readings, from device faults and from zones whose
    /// devices go silent); the feed's evaluation runs where workers run (<paramref name="runWorkers"/>).
    /// </summary>
    public static IServiceCollection AddAlertingModule(this IServiceCollection services, IConfiguration configuration, bool runWorkers)
    {
        services.AddOptions<AlertingOptions>().Bind(configuration.GetSection(AlertingOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<AlertingDatabase>();
        services.AddSingleton<AlertingMetrics>();
        services.AddSingleton<WatchedMetrics>();
        services.AddSingleton<ThresholdAlerts>();
        services.AddSingleton<FeedEvaluation>();
        services.AddSingleton<AlertRules>();
        services.AddSingleton<Alerts>();
        services.AddSingleton<Canopy.Platform.Messaging.IEventSubscriber, FaultAlerts>();
        services.AddSingleton<Canopy.Platform.Messaging.IEventSubscriber, OfflineAlerts>();
        services.AddSingleton<Canopy.Platform.Messaging.IEventSubscriber, MovedDevices>();
        services.AddSingleton(sp => new AlertingFeatures(sp.GetRequiredService<AlertRules>(), sp.GetRequiredService<Alerts>()));
        if (runWorkers)
        {
            services.AddHostedService(sp => sp.GetRequiredService<FeedEvaluation>());
        }

        services.AddMvcCore().AddApplicationPart(typeof(AlertingModule).Assembly);
        return services;
    }
}
