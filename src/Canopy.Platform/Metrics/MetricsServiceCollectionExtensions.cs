using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Canopy.Platform.Metrics;

public static class MetricsServiceCollectionExtensions
{
    public static IServiceCollection AddCanopyMetrics(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MetricsOptions>()
            .Bind(configuration.GetSection(MetricsOptions.Section))
            .Validate(o => TryParse(o.AllowedNetworks), "Metrics__AllowedNetworks must be a comma-separated list of CIDR networks.")
            .ValidateOnStart();
        services.AddSingleton(sp => new MetricsAccessPolicy(sp.GetRequiredService<IOptions<MetricsOptions>>().Value));
        return services;
    }

    private static bool TryParse(string networks)
    {
        try
        {
            _ = MetricsAccessPolicy.Parse(networks);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
