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

/// <summary>A stored batch, for the live streams: its device, the device's zone, its readings and how many of them were new.</summary>
internal sealed record StoredBatch(Guid TenantId, Guid DeviceId, Guid ZoneId, IReadOnlyList<StoredReading> Readings, int Accepted);

/// <summary>
/// Stores a batch of one device's readings, all or nothing. The batch's readings travel as three
/// binary arrays into one INSERT … SELECT FROM unnest (measured against a binary COPY into a
/// staging table in docs/adr/0021); the same statement queues the 5-minute buckets the batch
/// touches for the rollup worker, computed here, and answers only how many readings were new.
/// Most batches are new readings, so the first attempt is a plain INSERT, which PostgreSQL
/// writes a third faster than ON CONFLICT's speculative one; a batch that repeats a stored
/// reading (or one of its own) fails it as a whole and is written again, in a new transaction,
/// with ON CONFLICT DO NOTHING, which skips and counts the repeats. The device row is held (FOR
/// SHARE) for the transaction, so a decommissioning either waits for the batch or is seen by it.
/// </summary>
internal sealed class Ingestion : IDisposable
{
    /// <summary>The batch and the 5-minute buckets it touches, in one statement whose row count is the readings stored; fails if one of them is stored already or repeated in the batch.</summary>
    internal const string InsertNew = """
        WITH queued AS (
            INSERT INTO telemetry.rollup_backlog (tenant_id, device_id, metric, bucket_start)
            SELECT $1, $2, m, b FROM unnest($6::smallint[], $7::timestamptz[]) AS q(m, b)
            ON CONFLICT DO NOTHING
        )
        INSERT INTO telemetry.readings (tenant_id, device_id, metric, recorded_at, value)
        SELECT $1, $2, m, t, v FROM unnest($3::smallint[], $4::timestamptz[], $5::float8[]) AS r(m, t, v)
        """;

    /// <summary>The same, skipping the readings stored already.</summary>
    private const string InsertSkippingRepeats = InsertNew + "\nON CONFLICT DO NOTHING";

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

    /// <summary>Validates and stores one batch; <paramref name="live"/>: whether its readings go to the live streams (a bulk load of history sends none).</summary>
    public async Task<IngestTelemetryBatchResult> IngestAsync(DeviceCaller device, IReadOnlyList<Reading> body, CancellationToken cancellationToken, bool live = true)
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
            try
            {
                stored = await StoreAsync(InsertNew, device, readings, now, wait, started, cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && ex.SchemaName == "telemetry" && ex.TableName?.StartsWith("readings", StringComparison.Ordinal) == true)
            {
                _metrics.Rewritten();
                stored = await StoreAsync(InsertSkippingRepeats, device, readings, now, wait, started, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _turns.Release();
        }

        var duplicates = readings.Count - stored.Accepted;
        _metrics.Readings(stored.Accepted, duplicates);
        _metrics.Batch("stored", Stopwatch.GetElapsedTime(started));
        if (live && stored.Accepted > 0)
        {
            await _live.PublishAsync(stored, cancellationToken).ConfigureAwait(false);
        }

        return new IngestTelemetryBatchResult { Accepted = stored.Accepted, Duplicates = duplicates };
    }

    private async Task<StoredBatch> StoreAsync(
        string insert, DeviceCaller device, List<IncomingReading> readings, DateTimeOffset now, TimeSpan wait, long started, CancellationToken cancellationToken)
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

            // One pass: the readings for the live streams, the three columns, the touched buckets.
            var batch = new StoredReading[readings.Count];
            var codes = new short[readings.Count];
            var times = new DateTimeOffset[readings.Count];
            var values = new double[readings.Count];
            var buckets = new HashSet<(short Metric, DateTimeOffset Start)>();
            for (var i = 0; i < readings.Count; i++)
            {
                (codes[i], times[i], values[i]) = (StoredMetrics.Code(readings[i].Metric), readings[i].RecordedAt, readings[i].Value);
                batch[i] = new StoredReading(codes[i], times[i], values[i]);
                buckets.Add((codes[i], RollupBuckets.StartOf(times[i], RollupWidth.FiveMinutes)));
            }

            var accepted = await tx.ExecuteAsync(insert, cancellationToken,
                device.TenantId, device.DeviceId,
                Array(codes, NpgsqlDbType.Smallint), Array(times, NpgsqlDbType.TimestampTz), Array(values, NpgsqlDbType.Double),
                Array(buckets.Select(b => b.Metric).ToArray(), NpgsqlDbType.Smallint),
                Array(buckets.Select(b => b.Start).ToArray(), NpgsqlDbType.TimestampTz)).ConfigureAwait(false);

            // A sign of life for Fleet, at most once a sighting interval: the first batch of a
            // device that never reported or went OFFLINE, and then one a minute to keep
            // last_seen_at fresh for the offline sweep.
            if (status == "OFFLINE" || lastSeen is null || now - lastSeen >= TimeSpan.FromSeconds(_options.Value.SightingIntervalSeconds))
            {
                await _messages.AppendEventAsync(tx.Connection, tx.Transaction, DeviceReported, 1,
                    new { device_id = device.DeviceId, seen_at = now }, device.TenantId, device.DeviceId, cancellationToken).ConfigureAwait(false);
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new StoredBatch(device.TenantId, device.DeviceId, zone, batch, accepted);
        }
    }

    private static NpgsqlParameter Array<T>(T[] values, NpgsqlDbType type) => new() { Value = values, NpgsqlDbType = NpgsqlDbType.Array | type };

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
