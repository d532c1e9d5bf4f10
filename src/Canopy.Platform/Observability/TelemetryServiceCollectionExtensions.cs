using Canopy.Platform.Metrics;
using Canopy.Platform.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Canopy.Platform.Observability;

public static class TelemetryServiceCollectionExtensions
{
    /// <summary>
    /// OpenTelemetry traces through the instrumentation packages (exported over OTLP when
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; spans are always recorded so trace ids reach logs
    /// and problems), and the metrics /metrics serves through prometheus-net.
    /// </summary>
    public static IServiceCollection AddCanopyTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName)
    {
        // The exposition listens before Canopy's instruments record their first (zero) values.
        services.AddSingleton<MetricsExposition>();
        services.AddSingleton(sp =>
        {
            _ = sp.GetRequiredService<MetricsExposition>();
            return new CanopyMetrics(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        });

        var otlpEndpoint = configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName, serviceVersion: CanopyMetrics.Version))
            .WithTracing(tracing =>
            {
                tracing
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddNpgsql()
                    // Commands become spans when the instrumentation drains them: each second, not every ten.
                    .AddRedisInstrumentation(redis => redis.FlushInterval = TimeSpan.FromSeconds(1))
                    .ConfigureRedisInstrumentation((sp, redis) => redis.AddConnection(sp.GetRequiredService<RedisConnection>().Multiplexer))
                    .AddSource(CanopyActivitySource.Name)
                    .SetSampler(new ParentBasedSampler(new AlwaysOnSampler()));
                if (!string.IsNullOrWhiteSpace(otlpEndpoint))
                {
                    // The exporter reads the standard OTEL_EXPORTER_OTLP_* variables (endpoint, protocol, headers).
                    tracing.AddOtlpExporter();
                }
            });
        return services;
    }
}
