using System.Diagnostics.Metrics;
using Canopy.Platform.Observability;

namespace Canopy.Alerting.Features;

/// <summary>Alerting's instruments, on the Canopy meter exported at /metrics.</summary>
internal sealed class AlertingMetrics
{
    private readonly Counter<long> _feedEntries;
    private readonly Histogram<double> _evaluationDelay;

    public AlertingMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(CanopyMetrics.MeterName, CanopyMetrics.Version);
        _feedEntries = meter.CreateCounter<long>("alerting.feed.entries", "{batch}",
            "Stored batches taken from the feed of readings, by outcome (evaluated; unwatched: its tenant has no enabled rule; poison: not a batch; dropped: failed every attempt).");
        _evaluationDelay = meter.CreateHistogram<double>("alerting.evaluation.delay", "s",
            "Time from a batch entering the feed to its evaluation being committed: how late alerts are raised.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300] });
    }

    public void FeedEntry(string outcome) => _feedEntries.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void EvaluationDelay(TimeSpan delay) => _evaluationDelay.Record(Math.Max(0, delay.TotalSeconds));
}
