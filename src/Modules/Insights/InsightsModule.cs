using Canopy.Insights.Features;
using Canopy.Platform.Messaging;
using Canopy.Platform.Migrations;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

// Problem answers for invalid input, binding-source inference: as for every Canopy controller.
[assembly: ApiController]

namespace Canopy.Insights;

public static class InsightsModule
{
    public static MigrationSource Migrations { get; } = MigrationSource.FromAssembly("insights", typeof(InsightsModule).Assembly);

    /// <summary>The Insights module: read models kept from other modules' events, served as cached view models from the read replica.</summary>
    public static IServiceCollection AddInsightsModule(this IServiceCollection services)
    {
        services.AddSingleton<ReadModels>();
        services.AddSingleton<Views>();
        services.AddSingleton<IEventSubscriber, Projection>();
        services.AddSingleton(sp => new InsightsFeatures(sp.GetRequiredService<Views>()));
        services.AddMvcCore().AddApplicationPart(typeof(InsightsModule).Assembly);
        return services;
    }
}
