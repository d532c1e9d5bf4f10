using Canopy.Platform.Postgres;

namespace Canopy.Telemetry.Features;

/// <summary>
/// Recomputes every rollup of some devices from their readings in three set-based statements
/// and drops their backlog: for a bulk load (the demo seed) or a repair, where the incremental
/// worker would take one bucket at a time. Not for the ingestion path.
/// </summary>
internal sealed class RollupRebuild(PostgresDataSources dataSources)
{
    private const string Upsert = """
        ON CONFLICT (device_id, metric, width, bucket_start) DO UPDATE
           SET min = EXCLUDED.min, max = EXCLUDED.max, sum = EXCLUDED.sum, count = EXCLUDED.count, last = EXCLUDED.last, last_at = EXCLUDED.last_at
        """;

    public async Task RebuildAsync(Guid tenantId, IReadOnlyCollection<Guid> deviceIds, CancellationToken cancellationToken)
    {
        var devices = deviceIds.ToArray();
        await using var tx = await PostgresTransaction.BeginAsync(dataSources.Primary, tenantId, cancellationToken).ConfigureAwait(false);
        await tx.ExecuteAsync("SET LOCAL statement_timeout = 0", cancellationToken).ConfigureAwait(false);
        await tx.ExecuteAsync("DELETE FROM telemetry.rollup_backlog WHERE device_id = ANY($1)", cancellationToken, devices).ConfigureAwait(false);
        await tx.ExecuteAsync($"""
            INSERT INTO telemetry.rollups (tenant_id, device_id, metric, width, bucket_start, min, max, sum, count, last, last_at)
            SELECT tenant_id, device_id, metric, 300, date_bin('5 minutes', recorded_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                   min(value), max(value), sum(value), count(*)::int, (array_agg(value ORDER BY recorded_at DESC))[1], max(recorded_at)
              FROM telemetry.readings WHERE device_id = ANY($1)
             GROUP BY 1, 2, 3, 5
            {Upsert}
            """, cancellationToken, devices).ConfigureAwait(false);
        foreach (var (source, target) in new[] { (300, 3600), (3600, 86400) })
        {
            await tx.ExecuteAsync($"""
                INSERT INTO telemetry.rollups (tenant_id, device_id, metric, width, bucket_start, min, max, sum, count, last, last_at)
                SELECT tenant_id, device_id, metric, $3, date_bin(make_interval(secs => $3), bucket_start, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                       min(min), max(max), sum(sum), sum(count)::int, (array_agg(last ORDER BY last_at DESC))[1], max(last_at)
                  FROM telemetry.rollups WHERE device_id = ANY($1) AND width = $2
                 GROUP BY 1, 2, 3, 5
                {Upsert}
                """, cancellationToken, devices, source, target).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}
