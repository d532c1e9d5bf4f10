using Canopy.Platform.Observability;
using Canopy.Platform.Postgres;
using Canopy.Platform.Workers;
using Canopy.Telemetry.Domain;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NpgsqlTypes;

namespace Canopy.Telemetry.Features;

/// <summary>
/// Keeps the rollups in step with ingestion, incrementally: it takes the 5-minute buckets that
/// received readings since it last ran (telemetry.rollup_backlog), recomputes each from its
/// readings, then the hours from their 5-minute rollups and the days from their hours. A late
/// reading queues its old bucket like any other, so its hour and day are corrected too.
/// One worker at a time rolls up (an advisory lock): two would each recompute an hour from
/// five-minute rows the other had not committed yet.
/// </summary>
internal sealed class RollupWorker : ResilientWorker
{
    private const string TakeAndRollUp = """
        WITH taken AS (
            DELETE FROM telemetry.rollup_backlog b
             WHERE (b.device_id, b.metric, b.bucket_start) IN (
                   SELECT device_id, metric, bucket_start FROM telemetry.rollup_backlog LIMIT $1 FOR UPDATE SKIP LOCKED)
            RETURNING b.tenant_id, b.device_id, b.metric, b.bucket_start
        ), rolled AS (
            INSERT INTO telemetry.rollups AS o (tenant_id, device_id, metric, width, bucket_start, min, max, sum, count, last, last_at)
            SELECT k.tenant_id, k.device_id, k.metric, 300, k.bucket_start, s.min, s.max, s.sum, s.count, s.last, s.last_at
              FROM taken k
             CROSS JOIN LATERAL (
                   SELECT min(r.value) AS min, max(r.value) AS max, sum(r.value) AS sum, count(*)::int AS count,
                          (array_agg(r.value ORDER BY r.recorded_at DESC))[1] AS last, max(r.recorded_at) AS last_at
                     FROM telemetry.readings r
                    WHERE r.device_id = k.device_id AND r.metric = k.metric
                      AND r.recorded_at >= k.bucket_start AND r.recorded_at < k.bucket_start + interval '5 minutes') s
             WHERE s.count > 0
            ON CONFLICT (device_id, metric, width, bucket_start) DO UPDATE
               SET min = EXCLUDED.min, max = EXCLUDED.max, sum = EXCLUDED.sum, count = EXCLUDED.count, last = EXCLUDED.last, last_at = EXCLUDED.last_at
        )
        SELECT tenant_id, device_id, metric, bucket_start FROM taken
        """;

    /// <summary>The buckets of width $6 that hold the given 5-minute buckets, recomputed from their rollups of width $5.</summary>
    private const string RollUpWider = """
        INSERT INTO telemetry.rollups AS o (tenant_id, device_id, metric, width, bucket_start, min, max, sum, count, last, last_at)
        SELECT k.tenant_id, k.device_id, k.metric, $6, k.bucket_start, s.min, s.max, s.sum, s.count, s.last, s.last_at
          FROM (SELECT DISTINCT t AS tenant_id, d AS device_id, m AS metric,
                       date_bin(make_interval(secs => $6), b, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket_start
                  FROM unnest($1::uuid[], $2::uuid[], $3::smallint[], $4::timestamptz[]) AS u(t, d, m, b)) k
         CROSS JOIN LATERAL (
               SELECT min(r.min) AS min, max(r.max) AS max, sum(r.sum) AS sum, sum(r.count)::int AS count,
                      (array_agg(r.last ORDER BY r.last_at DESC))[1] AS last, max(r.last_at) AS last_at
                 FROM telemetry.rollups r
                WHERE r.device_id = k.device_id AND r.metric = k.metric AND r.width = $5
                  AND r.bucket_start >= k.bucket_start AND r.bucket_start < k.bucket_start + make_interval(secs => $6)) s
         WHERE s.count > 0
        ON CONFLICT (device_id, metric, width, bucket_start) DO UPDATE
           SET min = EXCLUDED.min, max = EXCLUDED.max, sum = EXCLUDED.sum, count = EXCLUDED.count, last = EXCLUDED.last, last_at = EXCLUDED.last_at
        """;

    private readonly PostgresDataSources _dataSources;
    private readonly TelemetryMetrics _telemetry;
    private readonly IOptions<TelemetryOptions> _options;

    public RollupWorker(PostgresDataSources dataSources, TelemetryMetrics telemetry, IOptions<TelemetryOptions> options, CanopyMetrics metrics, TimeProvider time, ILogger<RollupWorker> logger)
        : base(logger, metrics, time)
    {
        _dataSources = dataSources;
        _telemetry = telemetry;
        _options = options;
    }

    protected override string Name => "telemetry-rollups";

    protected override TimeSpan Interval => TimeSpan.FromMilliseconds(_options.Value.RollupIntervalMilliseconds);

    protected override async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        int taken;
        do
        {
            taken = await RollUpAsync(stoppingToken).ConfigureAwait(false);
        }
        while (taken == _options.Value.RollupBatch && !stoppingToken.IsCancellationRequested);
    }

    /// <summary>One batch of the backlog, in one transaction; answers how many 5-minute buckets it recomputed (0 when another worker holds the turn).</summary>
    public async Task<int> RollUpAsync(CancellationToken cancellationToken)
    {
        await using var tx = await PostgresTransaction.BeginAsync(_dataSources.Primary, null, cancellationToken).ConfigureAwait(false);
        await tx.EnterPlatformScopeAsync(cancellationToken).ConfigureAwait(false);
        await using (var turn = tx.Command("SELECT pg_try_advisory_xact_lock(hashtext('telemetry.rollups'))"))
        {
            if (await turn.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not true)
            {
                return 0;
            }
        }

        await using var take = tx.Command(TakeAndRollUp, _options.Value.RollupBatch);
        var buckets = await PostgresTransaction.ReadAllAsync(take,
            r => (Tenant: r.GetGuid(0), Device: r.GetGuid(1), Metric: r.GetInt16(2), Start: r.GetFieldValue<DateTimeOffset>(3)), cancellationToken).ConfigureAwait(false);
        if (buckets.Count == 0)
        {
            return 0;
        }

        object?[] Keys(int source, int target) =>
        [
            buckets.Select(b => b.Tenant).ToArray(), buckets.Select(b => b.Device).ToArray(),
            new Npgsql.NpgsqlParameter { Value = buckets.Select(b => b.Metric).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Smallint },
            buckets.Select(b => b.Start).ToArray(), source, target,
        ];
        await tx.ExecuteAsync(RollUpWider, cancellationToken, Keys((int)RollupWidth.FiveMinutes, (int)RollupWidth.Hour)).ConfigureAwait(false);
        await tx.ExecuteAsync(RollUpWider, cancellationToken, Keys((int)RollupWidth.Hour, (int)RollupWidth.Day)).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        _telemetry.RollupBatch(buckets.Count);
        return buckets.Count;
    }
}
