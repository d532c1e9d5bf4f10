using Canopy.Contracts;
using Canopy.Insights.Domain;
using Canopy.Platform.Caching;
using Canopy.Platform.Data;
using Canopy.Platform.Policies;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;
using Canopy.Platform.Spec;
using Npgsql;

namespace Canopy.Insights.Features;

/// <summary>
/// The view models: each read from the cache, or built from the read models (never from the raw
/// readings, nor from another module's tables) and cached for its operation's x-cache-ttl, as
/// the JSON the answer carries.
/// </summary>
internal sealed class Views(ViewCache cache, ReadModels readModels, OperationCatalog catalog, TimeProvider time)
{
    public Task<string?> FleetStatusAsync(Guid tenantId, CancellationToken cancellationToken) =>
        CachedAsync(tenantId, ViewFamily.Fleet, "fleet-status", "getFleetStatusSummary", async (tx, ct) =>
        {
            var farms = await Rows(tx, """
                SELECT f.farm_id, f.name,
                       count(d.device_id) FILTER (WHERE d.status = 'PROVISIONED')::int, count(d.device_id) FILTER (WHERE d.status = 'ACTIVE')::int,
                       count(d.device_id) FILTER (WHERE d.status = 'OFFLINE')::int, count(d.device_id) FILTER (WHERE d.status = 'FAULT')::int,
                       count(d.device_id) FILTER (WHERE d.status = 'DECOMMISSIONED')::int,
                       max(d.last_seen_at), count(d.device_id) FILTER (WHERE d.battery_low AND d.status <> 'DECOMMISSIONED')::int
                  FROM insights.farms f
                  LEFT JOIN insights.devices d ON d.farm_id = f.farm_id
                 WHERE NOT f.archived
                 GROUP BY f.farm_id, f.name
                 ORDER BY f.name, f.farm_id
                """, r => new FarmStatus
            {
                Farm_id = r.GetGuid(0), Name = r.GetString(1),
                Devices = new DeviceStateCounts { Provisioned = r.GetInt32(2), Active = r.GetInt32(3), Offline = r.GetInt32(4), Fault = r.GetInt32(5), Decommissioned = r.GetInt32(6) },
                Last_seen_at = r.IsDBNull(7) ? null : r.GetFieldValue<DateTimeOffset>(7), Battery_low = r.GetInt32(8),
            }, ct).ConfigureAwait(false);
            return new FleetStatusSummary { Generated_at = time.GetUtcNow(), Farms = farms };
        }, cancellationToken);

    public Task<string?> AlertSummaryAsync(Guid tenantId, CancellationToken cancellationToken) =>
        CachedAsync(tenantId, ViewFamily.Alerts, "alert-summary", "getAlertSummary", async (tx, ct) =>
        {
            var now = time.GetUtcNow();
            var (week, month) = (now.AddDays(-7), now.AddDays(-30));
            var rows = await Rows(tx, """
                SELECT count(*) FILTER (WHERE status <> 'RESOLVED' AND severity = 'info')::int,
                       count(*) FILTER (WHERE status <> 'RESOLVED' AND severity = 'warning')::int,
                       count(*) FILTER (WHERE status <> 'RESOLVED' AND severity = 'critical')::int,
                       count(*) FILTER (WHERE opened_at >= $1)::int, count(*) FILTER (WHERE acknowledged_at >= $1)::int, count(*) FILTER (WHERE resolved_at >= $1)::int,
                       avg(extract(epoch FROM acknowledged_at - opened_at)) FILTER (WHERE acknowledged_at >= $1)::float8,
                       avg(extract(epoch FROM resolved_at - opened_at)) FILTER (WHERE resolved_at >= $1)::float8,
                       count(*) FILTER (WHERE opened_at >= $2)::int, count(*) FILTER (WHERE acknowledged_at >= $2)::int, count(*) FILTER (WHERE resolved_at >= $2)::int,
                       avg(extract(epoch FROM acknowledged_at - opened_at)) FILTER (WHERE acknowledged_at >= $2)::float8,
                       avg(extract(epoch FROM resolved_at - opened_at)) FILTER (WHERE resolved_at >= $2)::float8
                  FROM insights.alerts
                 WHERE status <> 'RESOLVED' OR opened_at >= $2 OR acknowledged_at >= $2 OR resolved_at >= $2
                """, r => (Open: new OpenAlertCounts { Info = r.GetInt32(0), Warning = r.GetInt32(1), Critical = r.GetInt32(2), Total = r.GetInt32(0) + r.GetInt32(1) + r.GetInt32(2) },
                Week: Window(r, 3), Month: Window(r, 8)), ct, week, month).ConfigureAwait(false);
            return new AlertSummary { Generated_at = now, Open = rows[0].Open, Last_7_days = rows[0].Week, Last_30_days = rows[0].Month };
        }, cancellationToken);

    public Task<string?> TopFaultingZonesAsync(Guid tenantId, FaultPeriod period, CancellationToken cancellationToken) =>
        CachedAsync(tenantId, ViewFamily.Faults, "top-faulting-zones:" + WireNames.Of(period), "getTopFaultingZones", async (tx, ct) =>
        {
            var now = time.GetUtcNow();
            var from = now.AddDays(period == FaultPeriod.Month ? -30 : -7);
            var zones = await Rows(tx, """
                SELECT f.zone_id, z.name, z.farm_id, count(*)::int, count(DISTINCT f.device_id)::int
                  FROM insights.faults f
                  JOIN insights.zones z ON z.zone_id = f.zone_id
                 WHERE f.reported_at >= $1
                 GROUP BY f.zone_id, z.name, z.farm_id
                 ORDER BY count(*) DESC, f.zone_id
                 LIMIT 10
                """, r => new FaultingZone { Zone_id = r.GetGuid(0), Zone_name = r.GetString(1), Farm_id = r.GetGuid(2), Faults = r.GetInt32(3), Devices = r.GetInt32(4) },
                ct, from).ConfigureAwait(false);
            return new TopFaultingZones { Generated_at = now, Period = period, From = from, To = now, Data = zones };
        }, cancellationToken);

    /// <summary>The zone's chart, or 404 when the zone is not one of the tenant's (an answer cached briefly too).</summary>
    public async Task<string> TrendChartAsync(Guid tenantId, Guid zoneId, Metric metric, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken)
    {
        var (range, pointer, problem) = TrendRange.Resolve(from, to, time.GetUtcNow());
        if (range is null)
        {
            throw new ProblemException(ProblemTypes.ValidationFailed, problem!, [new FieldError(problem!, Parameter: pointer, In: "query")]);
        }

        var name = WireNames.Of(metric);
        var chart = await CachedAsync(tenantId, ViewFamily.Trends, $"trend:{zoneId}:{name}:{range.WidthSeconds}:{range.From.ToUnixTimeSeconds()}:{range.To.ToUnixTimeSeconds()}",
            "getTrendChart", async (tx, ct) =>
            {
                await using var zone = tx.Command("SELECT EXISTS (SELECT 1 FROM insights.zones WHERE zone_id = $1 AND NOT archived)", zoneId);
                if (!(bool)(await zone.ExecuteScalarAsync(ct).ConfigureAwait(false))!)
                {
                    return null;
                }

                var points = await Rows(tx, """
                    SELECT s.bucket_start, s.min, s.max, s.sum / s.count, s.count
                      FROM telemetry.device_series(ARRAY(SELECT device_id FROM insights.devices WHERE zone_id = $1), $2, $3, $4, $5) s
                    """, r => new TrendPoint { Bucket_start = r.GetFieldValue<DateTimeOffset>(0), Min = r.GetDouble(1), Max = r.GetDouble(2), Avg = r.GetDouble(3), Count = r.GetInt64(4) },
                    ct, zoneId, name, range.WidthSeconds, range.From, range.To).ConfigureAwait(false);
                return new TrendChart
                {
                    Zone_id = zoneId, Metric = metric, Bucket = WireNames.Parse<RollupBucket>(range.BucketName), From = range.From, To = range.To,
                    Generated_at = time.GetUtcNow(), Points = points,
                };
            }, cancellationToken).ConfigureAwait(false);
        return chart ?? throw new ProblemException(ProblemTypes.NotFound, "No zone with this id exists in your organisation.");
    }

    /// <summary>The view's JSON (null: it does not exist), cached for its operation's x-cache-ttl.</summary>
    private Task<string?> CachedAsync<T>(Guid tenantId, string family, string name, string operationId, Func<PostgresTransaction, CancellationToken, Task<T?>> build, CancellationToken cancellationToken)
        where T : class
    {
        var ttl = CacheTtlFilter.Seconds(catalog.Find(operationId)?.Extensions.GetValueOrDefault(CacheTtlFilter.Extension))
            ?? throw new InvalidOperationException($"{operationId} has no x-cache-ttl in the spec.");
        return cache.GetOrBuildAsync(ReadModels.Scope(tenantId, family), name, operationId, TimeSpan.FromSeconds(ttl),
            ct => readModels.ReadAsync(tenantId, build, ct), cancellationToken);
    }

    private static AlertWindow Window(NpgsqlDataReader r, int first) => new()
    {
        Raised = r.GetInt32(first), Acknowledged = r.GetInt32(first + 1), Resolved = r.GetInt32(first + 2),
        Mtta_seconds = r.IsDBNull(first + 3) ? null : r.GetDouble(first + 3), Mttr_seconds = r.IsDBNull(first + 4) ? null : r.GetDouble(first + 4),
    };

    private static async Task<List<T>> Rows<T>(PostgresTransaction tx, string sql, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken, params object?[] arguments)
    {
        await using var command = tx.Command(sql, arguments);
        return await PostgresTransaction.ReadAllAsync(command, read, cancellationToken).ConfigureAwait(false);
    }
}
