using System.Diagnostics.Metrics;
using Prometheus;

namespace Canopy.Platform.Metrics;

/// <summary>
/// What <c>/metrics</c> serves: prometheus-net's exposition of the .NET meters Canopy reads
/// (ASP.NET Core, Kestrel, HttpClient, the runtime, Npgsql and Canopy's own instruments) plus
/// prometheus-net's standard process metrics, in a registry of this host's own.
/// </summary>
public sealed class MetricsExposition : IDisposable
{
    /// <summary>The meters exported at /metrics.</summary>
    public static readonly string[] Meters =
    [
        "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Diagnostics",
        "System.Net.Http", "System.Runtime", "Npgsql", Observability.CanopyMetrics.MeterName,
    ];

    private readonly IDisposable _adapter;

    public MetricsExposition(IMeterFactory meterFactory)
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        _adapter = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = Registry,
            MetricFactory = Prometheus.Metrics.WithCustomRegistry(Registry),
            // prometheus-net deletes a series unchanged for 5 minutes by default, one day at most;
            // the counts alerts watch are observed at every scrape (CanopyMetrics), so they stay.
            MetricsExpireAfter = TimeSpan.FromDays(1),
            InstrumentFilterPredicate = instrument => Meters.Contains(instrument.Meter.Name) && BelongsTo(instrument, meterFactory) && !CountNamed(instrument),
            // The instrument's own bucket advice where it gives one (ASP.NET Core's durations, Canopy's).
            ResolveHistogramBuckets = instrument => Buckets(instrument) ?? DefaultBuckets,
        });
    }

    /// <summary>Seconds from 1 ms to 10 s, for durations that give no advice.</summary>
    private static readonly double[] DefaultBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    public CollectorRegistry Registry { get; }

    public const string ContentType = PrometheusConstants.TextContentTypeWithVersionAndEncoding;

    public Task WriteAsync(Stream body, CancellationToken cancellationToken) => Registry.CollectAndExportAsTextAsync(body, cancellationToken);

    public void Dispose() => _adapter.Dispose();

    /// <summary>
    /// A meter listener sees meters by name, process-wide. Two hosts in one process (several API
    /// instances under test, or a host restarted in place) would otherwise fold each other's
    /// instruments into one series. Meters made by a meter factory carry it as their scope;
    /// process-wide meters (Npgsql's, the runtime's) have none and belong to every host.
    /// </summary>
    internal static bool BelongsTo(Instrument instrument, IMeterFactory factory) =>
        instrument.Meter.Scope is null || ReferenceEquals(instrument.Meter.Scope, factory);

    /// <summary>
    /// prometheus-net names a metric after its instrument, and a gauge named <c>….count</c> would
    /// end in <c>_count</c>, which Prometheus reserves for histograms (promtool refuses it). The
    /// one such instrument an alert needs, Npgsql's pool connection count, is republished under
    /// another name (<see cref="Postgres.PostgresPoolMonitor"/>); thread and process counts come
    /// from prometheus-net's own process metrics instead.
    /// </summary>
    internal static bool CountNamed(Instrument instrument) =>
        instrument.Name.EndsWith(".count", StringComparison.Ordinal)
        && !(instrument.GetType().IsGenericType && instrument.GetType().GetGenericTypeDefinition() == typeof(Histogram<>));

    private static double[]? Buckets(Instrument instrument) => instrument switch
    {
        Histogram<double> h => h.Advice?.HistogramBucketBoundaries?.ToArray(),
        Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        Histogram<int> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
        _ => null,
    };
}
