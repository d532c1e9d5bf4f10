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
    private readonly Counter<long> _unhandled;
    private readonly Histogram<double> _redis;
    private readonly Counter<long> _slowQueries;
    private readonly Counter<long> _redisBreaks;
    private readonly Histogram<double> _jobs;
    private readonly Histogram<double> _eventLatency;
    private readonly Counter<long> _deliveries;
    private readonly Counter<long> _rateLimitFallbacks;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _undocumented;
    private volatile IReadOnlyList<(string Queue, string Status, long Count)> _deadLetters = [];

    public CanopyMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName, Version);
        _unhandled = _meter.CreateCounter<long>("unhandled_exceptions", "{exception}", "Exceptions nothing handled, by where they were caught.");
        _redis = _meter.CreateHistogram<double>("redis.command.duration", "s", "Duration of Redis commands.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
        _redisBreaks = _meter.CreateCounter<long>("redis.circuit_opened", "{opening}",
            "Times the Redis circuit breaker opened: Redis kept failing and calls were skipped for a while.");
        _slowQueries = _meter.CreateCounter<long>("db.slow_queries", "{query}", "SQL statements slower than the slow-query threshold.");

        _jobs = _meter.CreateHistogram<double>("jobs.duration", "s", "Duration of job runs by queue and outcome.");
        _eventLatency = _meter.CreateHistogram<double>("events.latency", "s", "Time from an event's commit to its handling, by subscriber.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _deliveries = _meter.CreateCounter<long>("events.deliveries", "{delivery}", "Event deliveries by subscriber and outcome.");
        _rateLimitFallbacks = _meter.CreateCounter<long>("rate_limit.local_checks", "{check}",
            "Rate-limit checks made in this instance's memory because Redis did not answer.");
        _rateLimited = _meter.CreateCounter<long>("rate_limit.refusals", "{request}", "Requests refused with 429, by rate-limit tier.");
        _undocumented = _meter.CreateCounter<long>("contract.undocumented_responses", "{response}",
            "Responses whose status or media type the operation does not document in the spec (checked outside production).");
        _meter.CreateObservableGauge("dead_letters", () => _deadLetters.Select(d => new Measurement<long>(d.Count,
            new KeyValuePair<string, object?>("queue", d.Queue), new KeyValuePair<string, object?>("status", d.Status))),
            "{letter}", "Dead letters waiting for triage (OPEN and HELD), by queue.");

        // Series that alerts rely on exist from the start at 0, so rate() has a baseline.
        _unhandled.Add(0, new KeyValuePair<string, object?>("source", "http"));
        _slowQueries.Add(0);
        _rateLimitFallbacks.Add(0);
        _redisBreaks.Add(0);
        _meter.CreateObservableGauge("build.info", () => new Measurement<int>(1, new KeyValuePair<string, object?>("version", Version)),
            "{build}", "Build information of the running service.");
    }

    public void UnhandledException(string source) =>
        _unhandled.Add(1, new KeyValuePair<string, object?>("source", source));

    public void RedisCommand(string command, TimeSpan duration, bool failed) =>
        _redis.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("command", command), new KeyValuePair<string, object?>("outcome", failed ? "error" : "ok"));

    public void SlowQuery() => _slowQueries.Add(1);

    public void RedisBreakerOpened() => _redisBreaks.Add(1);

    public void RateLimitFallback() => _rateLimitFallbacks.Add(1);

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

    /// <summary>The dead-letter depth, refreshed by a worker (a scrape never queries the database).</summary>
    public void DeadLetters(IReadOnlyList<(string Queue, string Status, long Count)> depth) => _deadLetters = depth;

    public void Dispose() => _meter.Dispose();
}
