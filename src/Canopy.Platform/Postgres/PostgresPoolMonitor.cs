using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Canopy.Platform.Postgres;

/// <summary>
/// Reads the connection-pool gauges Npgsql publishes on its "Npgsql" meter
/// (<c>db.client.connection.count</c> by state, <c>db.client.connection.max</c>), so readiness
/// and metrics see the pool as Npgsql itself counts it. Npgsql's count is republished as
/// <c>db.pool.connections</c> on the Canopy meter (<c>canopy_db_pool_connections</c>): under
/// its own name it would end in <c>_count</c>, which Prometheus keeps for histograms.
/// </summary>
public sealed class PostgresPoolMonitor : IDisposable
{
    private const string CountInstrument = "db.client.connection.count";
    private const string MaxInstrument = "db.client.connection.max";
    private const string StateTag = "db.client.connection.state";
    private const string PoolTag = "db.client.connection.pool.name";

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Pool, string Measure), long> _values = new();
    private readonly Lock _gate = new();

    public PostgresPoolMonitor(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        meterFactory.Create(Observability.CanopyMetrics.MeterName, Observability.CanopyMetrics.Version).CreateObservableGauge(
            "db.pool.connections",
            Connections,
            "{connection}",
            "Connections of each PostgreSQL pool, by state (used, idle), as Npgsql counts them.");
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Npgsql" && instrument.Name is CountInstrument or MaxInstrument)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    /// <summary>Connections of the named pool: in use, idle, and the configured maximum.</summary>
    public PoolUsage Read(string poolName)
    {
        lock (_gate)
        {
            Refresh();
            return Usage(poolName);
        }
    }

    private IEnumerable<Measurement<long>> Connections()
    {
        List<Measurement<long>> measurements = [];
        lock (_gate)
        {
            Refresh();
            foreach (var pool in _values.Keys.Select(k => k.Pool).Distinct())
            {
                var usage = Usage(pool);
                measurements.Add(Measure(usage.InUse, pool, "used"));
                measurements.Add(Measure(usage.Idle, pool, "idle"));
            }
        }

        return measurements;

        static Measurement<long> Measure(long value, string pool, string state) =>
            new(value, new KeyValuePair<string, object?>(PoolTag, pool), new KeyValuePair<string, object?>(StateTag, state));
    }

    private void Refresh()
    {
        foreach (var key in _values.Keys)
        {
            _values[key] = 0;
        }

        _listener.RecordObservableInstruments();
    }

    private PoolUsage Usage(string pool) => new(
        _values.GetValueOrDefault((pool, "used")),
        _values.GetValueOrDefault((pool, "idle")),
        _values.GetValueOrDefault((pool, "max")));

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string? pool = null;
        string? state = null;
        foreach (var tag in tags)
        {
            if (tag.Key == PoolTag)
            {
                pool = tag.Value as string;
            }
            else if (tag.Key == StateTag)
            {
                state = tag.Value as string;
            }
        }

        if (pool is null)
        {
            return;
        }

        var measure = instrument.Name == MaxInstrument ? "max" : state;
        if (measure is not null)
        {
            _values.AddOrUpdate((pool, measure), value, (_, old) => old + value);
        }
    }
}

/// <summary>A snapshot of one connection pool.</summary>
public readonly record struct PoolUsage(long InUse, long Idle, long Max)
{
    public double Utilisation => Max <= 0 ? 0 : (double)InUse / Max;
}
