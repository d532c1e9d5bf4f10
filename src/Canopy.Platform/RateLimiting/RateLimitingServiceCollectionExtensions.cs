using Canopy.Platform.Spec;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Canopy.Platform.RateLimiting;

public static class RateLimitingServiceCollectionExtensions
{
    /// <summary>
    /// The rate limiter and its tiers. A tier the spec names but configuration lacks, or a quota
    /// out of range, stops start-up.
    /// </summary>
    public static IServiceCollection AddCanopyRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RateLimitOptions>().Bind(configuration.GetSection(RateLimitOptions.Section))
            .Validate(o => o.Tiers.Values.All(q => q.Limit is >= 1 and <= 10_000_000 && q.WindowSeconds is >= 1 and <= 86_400),
                "Every RateLimits__Tiers__<tier> needs Limit (1 to 10,000,000) and WindowSeconds (1 to 86,400).")
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<RateLimitOptions>>(sp => new TiersOfTheSpec(sp.GetRequiredService<OperationCatalog>()));
        services.AddSingleton<RateLimiter>();
        return services;
    }

    private sealed class TiersOfTheSpec(OperationCatalog catalog) : IValidateOptions<RateLimitOptions>
    {
        public ValidateOptionsResult Validate(string? name, RateLimitOptions options)
        {
            var missing = catalog.Operations
                .Select(o => o.Extensions.GetValueOrDefault(RateLimitFilter.Extension))
                .Where(t => t is not null && !options.Tiers.ContainsKey(t))
                .Distinct()
                .ToList();
            return missing.Count == 0
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"The spec names rate-limit tiers with no quota: {string.Join(", ", missing)} (RateLimits__Tiers__<tier>).");
        }
    }
}
