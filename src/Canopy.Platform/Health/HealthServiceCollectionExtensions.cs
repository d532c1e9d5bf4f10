using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Platform.Health;

public static class HealthServiceCollectionExtensions
{
    public static IServiceCollection AddCanopyHealth(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<HealthOptions>()
            .Bind(configuration.GetSection(HealthOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<ReadinessProbe>();
        return services;
    }
}
