using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Canopy.Platform.Postgres;

/// <summary>
/// Reads the connection-pool gauges Npgsql publishes on its "Npgsql" meter
/// (<c>db.client.connection.count</c> by state, <c>db.client.connection.max</c>), so readiness
/// and metrics see the pool as Npgsql itself counts it.
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

    public PostgresPoolMonitor()
    {
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
            foreach (var key in _values.Keys.Where(k => k.Pool == poolName))
            {
                _values[key] = 0;
            }

            _listener.RecordObservableInstruments();
            return new PoolUsage(
                _values.GetValueOrDefault((poolName, "used")),
                _values.GetValueOrDefault((poolName, "idle")),
                _values.GetValueOrDefault((poolName, "max")));
        }
    }

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
