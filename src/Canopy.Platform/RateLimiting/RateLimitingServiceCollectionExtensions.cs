using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Platform.RateLimiting;

public static class RateLimitingServiceCollectionExtensions
{
    /// <summary>
    /// The rate limiter and its tiers. A quota out of range stops start-up, as does a tier the
    /// spec names but configuration lacks (OperationPolicies).
    /// </summary>
    public static IServiceCollection AddCanopyRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RateLimitOptions>().Bind(configuration.GetSection(RateLimitOptions.Section))
            .Validate(o => o.Tiers.Values.All(q => q.Limit is >= 1 and <= 10_000_000 && q.WindowSeconds is >= 1 and <= 86_400),
                "Every RateLimits__Tiers__<tier> needs Limit (1 to 10,000,000) and WindowSeconds (1 to 86,400).")
            .ValidateOnStart();
        services.AddSingleton<RateLimiter>();
        return services;
    }
}
