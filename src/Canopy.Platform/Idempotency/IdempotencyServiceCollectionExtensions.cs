using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Platform.Idempotency;

public static class IdempotencyServiceCollectionExtensions
{
    /// <summary>The idempotency store (Redis + PostgreSQL) and the claim that features make in their transaction.</summary>
    public static IServiceCollection AddCanopyIdempotency(this IServiceCollection services)
    {
        services.AddHttpContextAccessor();
        services.AddSingleton<IdempotencyStore>();
        services.AddSingleton<IdempotencyClaims>();
        return services;
    }
}
