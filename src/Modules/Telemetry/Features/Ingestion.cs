using System.Diagnostics;
using Canopy.Contracts;
using Canopy.Platform.Data;
using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;
using Canopy.Telemetry.Domain;
using Canopy.Telemetry.Security;
using Canopy.Telemetry.Streaming;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Telemetry.Features;

/// <summary>A reading as stored: the metric's code, its time and its value.</summary>
internal readonly record struct StoredReading(short Metric, DateTimeOffset RecordedAt, double Value);

/// <summary>What a stored batch means for the live streams: its device, the device's zone and the new readings.</summary>
internal sealed record StoredBatch(Guid TenantId, Guid DeviceId, Guid ZoneId, IReadOnlyList<StoredReading> Readings);

/// <summary>
/// Stores a batch of one device's readings, all or nothing. The batch's readings travel as three
/// binary arrays into one INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING (measured against
/// a binary COPY into a staging table in docs/adr/0021), which also queues the touched 5-minute
/// buckets for the rollup worker. The device row is held (FOR SHARE) for the transaction, so a
/// decommissioning either waits for the batch or is seen by it.
/// </summary>
internal sealed class Ingestion : IDisposable
{
    private const string Insert = """
        WITH stored AS (
            INSERT INTO telemetry.readings (tenant_id, device_id, metric, recorded_at, value)
            SELECT $1, $2, m, t, v FROM unnest($3::smallint[], $4::timestamptz[], $5::float8[]) AS r(m, t, v)
            ON CONFLICT DO NOTHING
            RETURNING metric, recorded_at, value
        ), queued AS (
            INSERT INTO telemetry.rollup_backlog (tenant_id, device_id, metric, bucket_start)
            SELECT DISTINCT $1::uuid, $2::uuid, metric, date_bin('5 minutes', recorded_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') FROM stored
            ON CONFLICT DO NOTHING
        )
        SELECT metric, recorded_at, value FROM stored
        """;

    private readonly PostgresDataSources _dataSources;
    private readonly MessageWriter _messages;
    private readonly LiveReadings _live;
    private readonly TelemetryMetrics _metrics;
    private readonly IOptions<TelemetryOptions> _options;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _turns;

    public Ingestion(PostgresDataSources dataSources, MessageWriter messages, LiveReadings live, TelemetryMetrics metrics, IOptions<TelemetryOptions> options, TimeProvider time)
    {
        _dataSources = dataSources;
        _messages = messages;
        _live = live;
        _metrics = metrics;
        _options = options;
        _time = time;
        _turns = new SemaphoreSlim(options.Value.MaxConcurrentBatches, options.Value.MaxConcurrentBatches);
    }

    public const string DeviceReported = "telemetry.device_reported";

    public async Task<IngestTelemetryBatchResult> IngestAsync(DeviceCaller device, IReadOnlyList<Reading> body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(body);
        var started = Stopwatch.GetTimestamp();
        var now = _time.GetUtcNow();
        var readings = body.Select(r => new IncomingReading(WireNames.Of(r.Metric), r.Value, r.Recorded_at)).ToList();
        Refuse422(ReadingRules.CheckValuesAndTimes(readings, now, TimeSpan.FromDays(_options.Value.RetentionDays)), started);

        // Back-pressure: a bounded number of batches write at once; the others wait a bounded
        // time for a turn and a connection, then are told to come back, never queued without limit.
        var wait = TimeSpan.FromMilliseconds(_options.Value.MaxBatchWaitMilliseconds);
        if (!await _turns.WaitAsync(wait, cancellationToken).ConfigureAwait(false))
        {
            throw Busy(started);
        }

        StoredBatch stored;
        try
        {
            stored = await StoreAsync(device, readings, now, wait, started, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _turns.Release();
        }

        var duplicates = readings.Count - stored.Readings.Count;
        _metrics.Readings(stored.Readings.Count, duplicates);
        _metrics.Batch("stored", Stopwatch.GetElapsedTime(started));
        if (stored.Readings.Count > 0)
        {
            await _live.PublishAsync(stored, cancellationToken).ConfigureAwait(false);
        }

        return new IngestTelemetryBatchResult { Accepted = stored.Readings.Count, Duplicates = duplicates };
    }

    private async Task<StoredBatch> StoreAsync(
        DeviceCaller device, List<IncomingReading> readings, DateTimeOffset now, TimeSpan wait, long started, CancellationToken cancellationToken)
    {
        PostgresTransaction tx;
        using (var opening = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            opening.CancelAfter(wait);
            try
            {
                tx = await PostgresTransaction.BeginAsync(_dataSources.Primary, device.TenantId, opening.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && IsPoolWait(ex, opening))
            {
                throw Busy(started);
            }
        }

        await using (tx)
        {
            await using var lookup = tx.Command("SELECT status, metrics, zone_id, last_seen_at FROM fleet.lock_device_channel($1)", device.DeviceId);
            var channel = await PostgresTransaction.ReadAllAsync(lookup, r => (
                Status: r.GetString(0), Metrics: r.GetFieldValue<string[]>(1), Zone: r.GetGuid(2),
                LastSeen: r.IsDBNull(3) ? (DateTimeOffset?)null : r.GetFieldValue<DateTimeOffset>(3)), cancellationToken).ConfigureAwait(false);
            if (channel.Count == 0 || channel[0].Status == "DECOMMISSIONED")
            {
                _metrics.Batch("refused", Stopwatch.GetElapsedTime(started));
                throw DeviceTokenGrants.Refused();
            }

            var (status, metrics, zone, lastSeen) = channel[0];
            if (status == "PROVISIONED")
            {
                _metrics.Batch("refused", Stopwatch.GetElapsedTime(started));
                throw new ProblemException(ProblemTypes.Conflict, "The device is registered but not activated yet: activate it (activateDevice) before it sends readings.");
            }

            Refuse422(ReadingRules.CheckMetricsOfDevice(readings, metrics), started);

            var codes = new short[readings.Count];
            var times = new DateTimeOffset[readings.Count];
            var values = new double[readings.Count];
            for (var i = 0; i < readings.Count; i++)
            {
                codes[i] = StoredMetrics.Code(readings[i].Metric);
                times[i] = readings[i].RecordedAt;
                values[i] = readings[i].Value;
            }

            await using var insert = tx.Command(Insert, device.TenantId, device.DeviceId,
                new NpgsqlParameter { Value = codes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Smallint },
                new NpgsqlParameter { Value = times, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
                new NpgsqlParameter { Value = values, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double });
            var stored = await PostgresTransaction.ReadAllAsync(insert,
                r => new StoredReading(r.GetInt16(0), r.GetFieldValue<DateTimeOffset>(1), r.GetDouble(2)), cancellationToken).ConfigureAwait(false);

            // A sign of life for Fleet, at most once a sighting interval: the first batch of a
            // device that never reported or went OFFLINE, and then one a minute to keep
            // last_seen_at fresh for the offline sweep.
            if (status == "OFFLINE" || lastSeen is null || now - lastSeen >= TimeSpan.FromSeconds(_options.Value.SightingIntervalSeconds))
            {
                await _messages.AppendEventAsync(tx.Connection, tx.Transaction, DeviceReported, 1,
                    new { device_id = device.DeviceId, seen_at = now }, device.TenantId, device.DeviceId, cancellationToken).ConfigureAwait(false);
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new StoredBatch(device.TenantId, device.DeviceId, zone, stored);
        }
    }

    /// <summary>Opening timed out in the pool (not the caller giving up): the database cannot keep up.</summary>
    private static bool IsPoolWait(Exception exception, CancellationTokenSource opening) =>
        opening.IsCancellationRequested && exception is OperationCanceledException or NpgsqlException or TimeoutException;

    private void Refuse422(IReadOnlyList<ReadingViolation> violations, long started)
    {
        if (violations.Count == 0)
        {
            return;
        }

        _metrics.Batch("invalid", Stopwatch.GetElapsedTime(started));
        throw new ProblemException(ProblemTypes.ValidationFailed,
            $"The batch was not stored: {(violations.Count >= ReadingRules.MaxListed ? $"at least {violations.Count}" : violations.Count)} reading(s) break a rule (the first are listed). Nothing of it was stored.",
            violations.Select(v => new FieldError(v.Detail, Pointer: v.Pointer)).ToList());
    }

    private ProblemException Busy(long started)
    {
        _metrics.Batch("busy", Stopwatch.GetElapsedTime(started));
        var problem = new ProblemException(ProblemTypes.ServiceUnavailable,
            "The database is not keeping up with ingestion right now; the batch was not stored. Send it again after Retry-After.");
        problem.Headers["Retry-After"] = "1";
        return problem;
    }

    public void Dispose() => _turns.Dispose();
}
