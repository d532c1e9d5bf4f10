using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace Canopy.Platform.Observability;

/// <summary>
/// Canopy's own instruments, on the "Canopy" meter exported at /metrics, where the meter's name
/// prefixes each instrument's (<c>dead_letters</c> is <c>canopy_dead_letters</c>).
/// </summary>
public sealed class CanopyMetrics : IDisposable
{
    public const string MeterName = "Canopy";

    public static readonly string Version =
        typeof(CanopyMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "unknown";

    private readonly Meter _meter;
    private readonly Histogram<double> _redis;
    private readonly Histogram<double> _jobs;
    private readonly Histogram<double> _eventLatency;
    private readonly Counter<long> _deliveries;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _undocumented;
    private volatile IReadOnlyList<(string Queue, string Status, long Count)> _deadLetters = [];

    // The counts alerts watch are kept here and observed at each scrape, so their series exist
    // from the start (at 0) and are refreshed by every scrape: prometheus-net drops a series
    // that has not changed for a day, and a counter that reappeared at 1 would never show an
    // increase() to its alert.
    private readonly ConcurrentDictionary<string, long> _unhandled = new(StringComparer.Ordinal) { ["http"] = 0 };
    private long _slowQueries;
    private long _redisBreaks;
    private long _rateLimitFallbacks;
    private double? _replicaLag;

    public CanopyMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName, Version);
        _meter.CreateObservableCounter("unhandled_exceptions", () => _unhandled.Select(u => new Measurement<long>(u.Value, new KeyValuePair<string, object?>("source", u.Key))),
            "{exception}", "Exceptions nothing handled, by where they were caught.");
        _redis = _meter.CreateHistogram<double>("redis.command.duration", "s", "Duration of Redis commands.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
        _meter.CreateObservableCounter("redis.circuit_opened", () => Interlocked.Read(ref _redisBreaks), "{opening}",
            "Times the Redis circuit breaker opened: Redis kept failing and calls were skipped for a while.");
        _meter.CreateObservableCounter("db.slow_queries", () => Interlocked.Read(ref _slowQueries), "{query}", "SQL statements slower than the slow-query threshold.");

        _jobs = _meter.CreateHistogram<double>("jobs.duration", "s", "Duration of job runs by queue and outcome.");
        _eventLatency = _meter.CreateHistogram<double>("events.latency", "s", "Time from an event's commit to its handling, by subscriber.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _deliveries = _meter.CreateCounter<long>("events.deliveries", "{delivery}", "Event deliveries by subscriber and outcome.");
        _meter.CreateObservableCounter("rate_limit.local_checks", () => Interlocked.Read(ref _rateLimitFallbacks), "{check}",
            "Rate-limit checks made in this instance's memory because Redis did not answer.");
        _rateLimited = _meter.CreateCounter<long>("rate_limit.refusals", "{request}", "Requests refused with 429, by rate-limit tier.");
        _undocumented = _meter.CreateCounter<long>("contract.undocumented_responses", "{response}",
            "Responses whose status or media type the operation does not document in the spec (checked outside production).");
        _meter.CreateObservableGauge("dead_letters", () => _deadLetters.Select(d => new Measurement<long>(d.Count,
            new KeyValuePair<string, object?>("queue", d.Queue), new KeyValuePair<string, object?>("status", d.Status))),
            "{letter}", "Dead letters waiting for triage (OPEN and HELD), by queue.");

        _meter.CreateObservableGauge("postgres.replica.lag", () => _replicaLag is { } lag ? [new Measurement<double>(lag)] : Array.Empty<Measurement<double>>(), "s",
            "How far the read replica's replay was behind the primary at the last readiness check (absent until one ran or while the replica is unreachable).");

        _meter.CreateObservableGauge("build.info", () => new Measurement<int>(1, new KeyValuePair<string, object?>("version", Version)),
            "{build}", "Build information of the running service.");
    }

    public void UnhandledException(string source) => _unhandled.AddOrUpdate(source, 1, (_, count) => count + 1);

    /// <summary>A Redis call by outcome: ok, error, or circuit_open (never sent, the circuit was open).</summary>
    public void RedisCommand(string command, TimeSpan duration, string outcome) =>
        _redis.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("command", command), new KeyValuePair<string, object?>("outcome", outcome));

    public void SlowQuery() => Interlocked.Increment(ref _slowQueries);

    public void RedisBreakerOpened() => Interlocked.Increment(ref _redisBreaks);

    public void RateLimitFallback() => Interlocked.Increment(ref _rateLimitFallbacks);

    public void UndocumentedResponse(string operationId, int status) =>
        _undocumented.Add(1, new KeyValuePair<string, object?>("operation", operationId), new KeyValuePair<string, object?>("status", status));

    public void RateLimited(string tier) => _rateLimited.Add(1, new KeyValuePair<string, object?>("tier", tier));

    public void Job(string queue, string outcome, TimeSpan duration) =>
        _jobs.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("queue", queue), new KeyValuePair<string, object?>("outcome", outcome));

    public void EventHandled(string subscriber, string outcome, TimeSpan? latency)
    {
        _deliveries.Add(1, new KeyValuePair<string, object?>("subscriber", subscriber), new KeyValuePair<string, object?>("outcome", outcome));
        if (latency is { } l)
        {
            _eventLatency.Record(Math.Max(0, l.TotalSeconds), new KeyValuePair<string, object?>("subscriber", subscriber));
        }
    }

    /// <summary>The replica's replay lag measured by the readiness check; null when it could not be reached.</summary>
    public void ReplicaLag(double? seconds) => _replicaLag = seconds;

    /// <summary>The dead-letter depth, refreshed by a worker (a scrape never queries the database).</summary>
    public void DeadLetters(IReadOnlyList<(string Queue, string Status, long Count)> depth) => _deadLetters = depth;

    public void Dispose() => _meter.Dispose();
}
