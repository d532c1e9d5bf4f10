using Canopy.Alerting.Features;
using Canopy.Platform.Migrations;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

// Problem answers for invalid input, binding-source inference: as for every Canopy controller.
[assembly: ApiController]

namespace Canopy.Alerting;

public static class AlertingModule
{
    public static MigrationSource Migrations { get; } = MigrationSource.FromAssembly("alerting", typeof(AlertingModule).Assembly);

    /// <summary>The Alerting module: alert rules on the readings of a farm, a zone or a device, and alerts (raised from device faults and from zones whose devices go silent).</summary>
    public static IServiceCollection AddAlertingModule(this IServiceCollection services)
    {
        services.AddSingleton<AlertingDatabase>();
        services.AddSingleton<AlertRules>();
        services.AddSingleton<Alerts>();
        services.AddSingleton<Canopy.Platform.Messaging.IEventSubscriber, FaultAlerts>();
        services.AddSingleton<Canopy.Platform.Messaging.IEventSubscriber, OfflineAlerts>();
        services.AddSingleton(sp => new AlertingFeatures(sp.GetRequiredService<AlertRules>(), sp.GetRequiredService<Alerts>()));
        services.AddMvcCore().AddApplicationPart(typeof(AlertingModule).Assembly);
        return services;
    }
}
