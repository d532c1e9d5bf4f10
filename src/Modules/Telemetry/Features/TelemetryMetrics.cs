using System.Diagnostics.Metrics;
using Canopy.Platform.Observability;

namespace Canopy.Telemetry.Features;

/// <summary>Telemetry's instruments, on the Canopy meter exported at /metrics.</summary>
internal sealed class TelemetryMetrics
{
    private readonly Counter<long> _readings;
    private readonly Counter<long> _batches;
    private readonly Counter<long> _rewritten;
    private readonly Histogram<double> _batchDuration;
    private readonly Counter<long> _deviceTokens;
    private readonly Counter<long> _streamClosed;
    private readonly Counter<long> _streamPublishFailures;
    private readonly Histogram<double> _rollupBuckets;
    private long _subscribers;

    public TelemetryMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(CanopyMetrics.MeterName, CanopyMetrics.Version);
        _readings = meter.CreateCounter<long>("telemetry.readings", "{reading}", "Readings received, by outcome (stored, duplicate).");
        _batches = meter.CreateCounter<long>("telemetry.batches", "{batch}", "Ingestion batches, by outcome (stored, invalid, refused, busy).");
        _rewritten = meter.CreateCounter<long>("telemetry.batches.rewritten", "{batch}", "Batches written a second time because they repeat a stored reading or one of their own (the first, plain attempt rolled back).");
        _batchDuration = meter.CreateHistogram<double>("telemetry.batch.duration", "s", "Time to validate and store a batch.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5] });
        _deviceTokens = meter.CreateCounter<long>("telemetry.device_tokens", "{request}", "Device-token requests, by outcome.");
        meter.CreateObservableGauge("telemetry.stream.subscribers", () => Interlocked.Read(ref _subscribers), "{client}", "Live-stream clients connected to this instance.");
        _streamClosed = meter.CreateCounter<long>("telemetry.stream.closed", "{client}", "Live-stream clients the service disconnected, by reason.");
        _streamPublishFailures = meter.CreateCounter<long>("telemetry.stream.publish_failures", "{batch}", "Stored batches that could not be published to live streams.");
        _rollupBuckets = meter.CreateHistogram<double>("telemetry.rollup.batch", "{bucket}", "5-minute buckets recomputed per rollup transaction.");
    }

    public void Batch(string outcome, TimeSpan duration)
    {
        _batches.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
        _batchDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));
    }

    public void Rewritten() => _rewritten.Add(1);

    public void Readings(int stored, int duplicates)
    {
        _readings.Add(stored, new KeyValuePair<string, object?>("outcome", "stored"));
        _readings.Add(duplicates, new KeyValuePair<string, object?>("outcome", "duplicate"));
    }

    public void DeviceToken(string outcome) => _deviceTokens.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void SubscriberJoined() => Interlocked.Increment(ref _subscribers);

    public void SubscriberLeft() => Interlocked.Decrement(ref _subscribers);

    public long Subscribers => Interlocked.Read(ref _subscribers);

    public void StreamClosed(string reason) => _streamClosed.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void StreamPublishFailed() => _streamPublishFailures.Add(1);

    public void RollupBatch(int buckets) => _rollupBuckets.Record(buckets);
}
