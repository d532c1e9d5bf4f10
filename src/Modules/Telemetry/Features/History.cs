using System.Globalization;
using Canopy.Contracts;
using Canopy.Platform.Data;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;
using Canopy.Telemetry.Domain;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Telemetry.Features;

/// <summary>
/// Range queries over a device's readings and rollups, oldest first, cursor-paged. A device
/// that is not the caller's tenant's is 404, read in the same round trip as the page. The
/// cursor carries the resolved range, so a page after the first means the same range even when
/// <c>to</c> was left to default to "now".
/// </summary>
internal sealed class History(PostgresDataSources dataSources, CursorCodec cursors, TimeProvider time)
{
    private static readonly TimeSpan ReadingsSpan = TimeSpan.FromHours(24);
    private static readonly TimeSpan RollupsSpan = TimeSpan.FromDays(30);

    public async Task<ReadingPage> ReadingsAsync(
        Guid tenantId, Guid deviceId, Metric metric, DateTimeOffset? from, DateTimeOffset? to, string? cursor, int limit, CancellationToken cancellationToken)
    {
        var filters = CursorCodec.HashFilters(("list", "readings"), ("device", deviceId.ToString()), ("metric", WireNames.Of(metric)), ("from", Text(from)), ("to", Text(to)));
        var range = Resolve(from, to, ReadingsSpan, cursor, filters);
        var rows = await ReadAsync(tenantId, deviceId, """
            SELECT r.recorded_at, r.value FROM telemetry.readings r
             WHERE r.device_id = $1 AND r.metric = $2 AND r.recorded_at >= $3 AND r.recorded_at < $4
               AND ($5::timestamptz IS NULL OR r.recorded_at > $5)
             ORDER BY r.recorded_at
             LIMIT $6
            """, r => new Reading { Metric = metric, Recorded_at = r.GetFieldValue<DateTimeOffset>(1), Value = r.GetDouble(2) }, cancellationToken,
            StoredMetrics.Code(WireNames.Of(metric)), range.From, range.To, PostgresTransaction.Nullable(range.After, NpgsqlDbType.TimestampTz), limit + 1).ConfigureAwait(false);
        var (page, next) = Pages.Cut(rows, limit, last => cursors.Encode(range.Next(last.Recorded_at), filters));
        return new ReadingPage { Data = page, Next_cursor = next, Has_more = next is not null };
    }

    public async Task<RollupPage> RollupsAsync(
        Guid tenantId, Guid deviceId, Metric metric, RollupBucket bucket, DateTimeOffset? from, DateTimeOffset? to, string? cursor, int limit, CancellationToken cancellationToken)
    {
        var filters = CursorCodec.HashFilters(("list", "rollups"), ("device", deviceId.ToString()), ("metric", WireNames.Of(metric)),
            ("bucket", WireNames.Of(bucket)), ("from", Text(from)), ("to", Text(to)));
        var range = Resolve(from, to, RollupsSpan, cursor, filters);
        var rows = await ReadAsync(tenantId, deviceId, """
            SELECT r.bucket_start, r.min, r.max, r.sum / r.count, r.count, r.last FROM telemetry.rollups r
             WHERE r.device_id = $1 AND r.metric = $2 AND r.width = $7 AND r.bucket_start >= $3 AND r.bucket_start < $4
               AND ($5::timestamptz IS NULL OR r.bucket_start > $5)
             ORDER BY r.bucket_start
             LIMIT $6
            """, r => new Rollup
            {
                Metric = metric,
                Bucket = bucket,
                Bucket_start = r.GetFieldValue<DateTimeOffset>(1),
                Min = r.GetDouble(2),
                Max = r.GetDouble(3),
                Avg = r.GetDouble(4),
                Count = r.GetInt32(5),
                Last = r.GetDouble(6),
            }, cancellationToken,
            StoredMetrics.Code(WireNames.Of(metric)), range.From, range.To, PostgresTransaction.Nullable(range.After, NpgsqlDbType.TimestampTz), limit + 1,
            (int)Width(bucket)).ConfigureAwait(false);
        var (page, next) = Pages.Cut(rows, limit, last => cursors.Encode(range.Next(last.Bucket_start), filters));
        return new RollupPage { Data = page, Next_cursor = next, Has_more = next is not null };
    }

    /// <summary>Whether the caller's tenant has this device (any state) or this live zone: what a stream may follow.</summary>
    public async Task<bool> VisibleAsync(Guid tenantId, Guid? deviceId, Guid? zoneId, CancellationToken cancellationToken)
    {
        var visible = await PostgresTransaction.ReadAsync(dataSources.Primary, tenantId,
            "SELECT CASE WHEN $1::uuid IS NOT NULL THEN EXISTS (SELECT 1 FROM fleet.device_channel($1)) ELSE fleet.zone_visible($2) END",
            r => r.GetBoolean(0), cancellationToken,
            PostgresTransaction.Nullable(deviceId, NpgsqlDbType.Uuid), PostgresTransaction.Nullable(zoneId, NpgsqlDbType.Uuid)).ConfigureAwait(false);
        return visible is [true];
    }

    public static RollupWidth Width(RollupBucket bucket) => bucket switch
    {
        RollupBucket._5m => RollupWidth.FiveMinutes,
        RollupBucket._1h => RollupWidth.Hour,
        _ => RollupWidth.Day,
    };

    /// <summary>
    /// The page's rows after a first column saying whether the device is visible at all: one
    /// round trip, and no rows of another tenant's device (row-level security) but a 404.
    /// </summary>
    private async Task<List<T>> ReadAsync<T>(
        Guid tenantId, Guid deviceId, string query, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken, params object?[] arguments)
        where T : class
    {
        var found = false;
        var rows = await PostgresTransaction.ReadAsync(dataSources.Primary, tenantId, $"""
            SELECT d.visible, page.* FROM (SELECT EXISTS (SELECT 1 FROM fleet.device_channel($1)) AS visible) d
            LEFT JOIN LATERAL ({query}) page ON d.visible
            """, r =>
            {
                found = r.GetBoolean(0);
                return r.IsDBNull(1) ? default : read(r);
            }, cancellationToken, [deviceId, .. arguments]).ConfigureAwait(false);
        return found ? rows.OfType<T>().ToList() : throw new ProblemException(ProblemTypes.NotFound, "No device with this id exists in your organisation.");
    }

    private Range Resolve(DateTimeOffset? from, DateTimeOffset? to, TimeSpan span, string? cursor, string filters)
    {
        if (cursor is not null)
        {
            var after = cursors.Decode(cursor, filters).After;
            return new Range(Parse(after[0]), Parse(after[1]), Parse(after[2]));
        }

        var end = to ?? time.GetUtcNow();
        var start = from ?? end - span;
        if (start > end)
        {
            throw new ProblemException(ProblemTypes.ValidationFailed, "The range is empty: from is after to.",
                [new FieldError("Must not be after to.", Parameter: "from", In: "query")]);
        }

        return new Range(start, end, null);
    }

    private static string? Text(DateTimeOffset? value) => value?.UtcTicks.ToString(CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string ticks) => new(long.Parse(ticks, CultureInfo.InvariantCulture), TimeSpan.Zero);

    private sealed record Range(DateTimeOffset From, DateTimeOffset To, DateTimeOffset? After)
    {
        public CursorPosition Next(DateTimeOffset last) =>
            new([From.UtcTicks.ToString(CultureInfo.InvariantCulture), To.UtcTicks.ToString(CultureInfo.InvariantCulture), last.UtcTicks.ToString(CultureInfo.InvariantCulture)]);
    }
}
