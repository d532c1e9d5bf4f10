using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Platform.Messaging;

public static class MessagingServiceCollectionExtensions
{
    /// <summary>
    /// The outbox, job queue and dead letters. Every process writes events and jobs; workers
    /// (relay, job workers, replayer, depth gauge, retention) run where <paramref name="runWorkers"/>
    /// says: the API process by default, or a separate <c>--role worker</c> process.
    /// </summary>
    public static IServiceCollection AddCanopyMessaging(this IServiceCollection services, IConfiguration configuration, bool runWorkers)
    {
        services.AddOptions<MessagingOptions>().Bind(configuration.GetSection(MessagingOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<MessagingRegistry>();
        services.AddSingleton<MessageWriter>();
        services.AddSingleton<MessagingOperations>();
        services.AddOptions<Security.PlatformOperatorOptions>().Bind(configuration.GetSection(Security.PlatformOperatorOptions.Section));
        services.AddSingleton<Security.PlatformOperators>();
        services.AddHostedService<SubscriptionSync>();
        if (runWorkers)
        {
            services.AddSingleton<WorkSignals>();
            services.AddHostedService(sp => sp.GetRequiredService<WorkSignals>());
            services.AddSingleton<JobWorker>();
            services.AddHostedService(sp => sp.GetRequiredService<JobWorker>());
            services.AddSingleton<OutboxRelay>();
            services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());
            services.AddHostedService<DeadLetterReplayer>();
            services.AddHostedService<DeadLetterDepth>();
            services.AddHostedService<RetentionWorker>();
        }

        return services;
    }
}
