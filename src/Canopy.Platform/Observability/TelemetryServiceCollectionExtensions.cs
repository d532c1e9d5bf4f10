using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Canopy.Platform.Observability;

public static class TelemetryServiceCollectionExtensions
{
    /// <summary>The activity sources whose spans Canopy records.</summary>
    public static readonly string[] TraceSources = ["Microsoft.AspNetCore", "System.Net.Http", "Npgsql", CanopyActivitySource.Name];

    /// <summary>The meters exported at /metrics.</summary>
    public static readonly string[] Meters =
    [
        "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Diagnostics",
        "System.Net.Http", "System.Runtime", "Npgsql", CanopyMetrics.MeterName,
    ];

    /// <summary>
    /// OpenTelemetry traces (exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set) and
    /// metrics (read by /metrics). Spans are always recorded so trace ids reach logs and problems.
    /// </summary>
    public static IServiceCollection AddCanopyTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName)
    {
        // The provider listens before Canopy's instruments record their first (zero) values.
        services.AddSingleton(sp =>
        {
            _ = sp.GetRequiredService<MeterProvider>();
            return new CanopyMetrics(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        });
        services.AddSingleton<PrometheusExporter>();
        var resource = ResourceBuilder.CreateDefault().AddService(serviceName, serviceVersion: CanopyMetrics.Version);
        var otlpEndpoint = configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];

        services.AddSingleton(sp =>
        {
            var ownFactory = sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
            var builder = Sdk.CreateMeterProviderBuilder()
                .SetResourceBuilder(resource)
                .AddMeter(Meters)
                .AddView(instrument => BelongsTo(instrument, ownFactory) ? null : MetricStreamConfiguration.Drop)
                .AddReader(sp.GetRequiredService<PrometheusExporter>().Reader);
            return builder.Build();
        });
        services.AddSingleton(_ =>
        {
            var builder = Sdk.CreateTracerProviderBuilder()
                .SetResourceBuilder(resource)
                .AddSource(TraceSources)
                .SetSampler(new ParentBasedSampler(new AlwaysOnSampler()));
            if (!string.IsNullOrWhiteSpace(otlpEndpoint))
            {
                // The exporter reads the standard OTEL_EXPORTER_OTLP_* variables (endpoint, protocol, headers).
                builder.AddOtlpExporter();
            }

            return builder.Build();
        });
        services.AddHostedService<TelemetryStarter>();
        return services;
    }

    /// <summary>
    /// A provider listens to meters by name, process-wide. Two hosts in one process (several API
    /// instances under test, or a host restarted in place) would otherwise fold each other's
    /// instruments into one series, which drops back when the other host disposes its meter.
    /// Meters made by a meter factory carry it as their scope; process-wide meters have none.
    /// </summary>
    internal static bool BelongsTo(System.Diagnostics.Metrics.Instrument instrument, System.Diagnostics.Metrics.IMeterFactory factory) =>
        instrument.Meter.Scope is null || ReferenceEquals(instrument.Meter.Scope, factory);

    /// <summary>Builds the providers before the first request, so the first request is traced and counted.</summary>
    private sealed class TelemetryStarter(MeterProvider meters, TracerProvider traces) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = meters;
            _ = traces;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
