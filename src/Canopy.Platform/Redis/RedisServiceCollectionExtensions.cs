using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Platform.Redis;

public static class RedisServiceCollectionExtensions
{
    /// <summary>Registers <see cref="RedisConnection"/> and the view cache over it; the configuration string is <c>ConnectionStrings:Redis</c>.</summary>
    public static IServiceCollection AddCanopyRedis(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RedisOptions>()
            .Bind(configuration.GetSection(RedisOptions.Section))
            .Configure(o => o.Configuration = configuration.GetConnectionString("Redis") ?? "")
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<RedisConnection>();
        services.AddSingleton<Caching.ViewCache>();
        return services;
    }
}
