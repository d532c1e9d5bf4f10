using System.Net;
using System.Text.Json;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Telemetry.Features;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static Canopy.Api.Tests.Telemetry.TelemetryApi;

namespace Canopy.Api.Tests.Telemetry;

public sealed class HistoryTests(TelemetryHost host) : IClassFixture<TelemetryHost>
{
    /// <summary>The last month boundary before now: readings on both sides of it are in two partitions.</summary>
    private static readonly DateTimeOffset MonthStart = new(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Given_readings_on_both_sides_of_a_month_boundary_Then_pages_walk_across_the_partitions_in_time_order_without_gaps_or_repeats()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        var times = Enumerable.Range(-3, 6).Select(i => MonthStart.AddMinutes(i * 10)).ToList();
        await CountsAsync(await device.SendAsync(times.Select((t, i) => Reading("temperature_c", 20 + i, t)).Reverse().ToArray()));
        Assert.Equal(2L, await IdentityApi.ScalarAsync<long>("SELECT count(DISTINCT tableoid) FROM telemetry.readings WHERE device_id = $1", device.DeviceId));

        var seen = new List<DateTimeOffset>();
        var path = $"/api/v1/devices/{device.DeviceId}/readings?metric=temperature_c&from={Uri.EscapeDataString(MonthStart.AddHours(-1).ToString("O"))}&limit=2";
        string? cursor = null;
        var pages = 0;
        do
        {
            using var response = await grower.Telemetry.GetAsync(path + (cursor is null ? "" : "&cursor=" + cursor), grower.OwnerToken);
            var page = await IdentityApi.Json(response);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            seen.AddRange(page.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("recorded_at").GetDateTimeOffset()));
            cursor = page.GetProperty("next_cursor").GetString();
            Assert.Equal(cursor is not null, page.GetProperty("has_more").GetBoolean());
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(times, seen);
        Assert.Equal(3, pages);
    }

    [Fact]
    public async Task Given_a_page_read_twice_Then_it_carries_the_same_strong_etag_and_if_none_match_answers_304_until_a_reading_lands_in_it()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        var at = DateTimeOffset.UtcNow.AddHours(-1);
        await CountsAsync(await device.SendAsync(Reading("co2_ppm", 700, at)));
        var path = $"/api/v1/devices/{device.DeviceId}/readings?metric=co2_ppm&from={Uri.EscapeDataString(at.AddMinutes(-1).ToString("O"))}&to={Uri.EscapeDataString(at.AddMinutes(10).ToString("O"))}";

        using var first = await grower.Telemetry.GetAsync(path, grower.OwnerToken);
        var etag = first.Headers.ETag!.ToString();
        using var unchanged = await grower.Telemetry.GetAsync(path, grower.OwnerToken, etag);
        await CountsAsync(await device.SendAsync(Reading("co2_ppm", 710, at.AddMinutes(1))));
        using var changed = await grower.Telemetry.GetAsync(path, grower.OwnerToken, etag);

        Assert.Matches("^\"[0-9a-f]{16}\"$", etag);
        Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.NotEqual(etag, changed.Headers.ETag!.ToString());
        Assert.Equal(2, (await IdentityApi.Json(changed)).GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Given_another_organisation_s_device_Then_its_readings_rollups_and_stream_are_404_and_reveal_nothing()
    {
        var owner = await host.NewGrowerAsync();
        var device = await owner.SenderAsync();
        await CountsAsync(await device.SendAsync(Reading("temperature_c", 22, DateTimeOffset.UtcNow.AddMinutes(-5))));
        var stranger = await host.NewGrowerAsync();

        foreach (var path in new[]
        {
            $"/api/v1/devices/{device.DeviceId}/readings?metric=temperature_c",
            $"/api/v1/devices/{device.DeviceId}/rollups?metric=temperature_c&bucket=1h",
            $"/api/v1/streams/telemetry?device_id={device.DeviceId}",
            $"/api/v1/streams/telemetry?zone_id={owner.ZoneId}",
        })
        {
            using var response = await stranger.Telemetry.GetAsync(path, stranger.OwnerToken);
            await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound, "not-found");
        }
    }

    [Fact]
    public async Task Given_a_range_that_ends_before_it_starts_or_a_stream_of_both_a_zone_and_a_device_Then_it_is_a_422_naming_the_parameter()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();

        using var backwards = await grower.Telemetry.GetAsync(
            $"/api/v1/devices/{device.DeviceId}/readings?metric=temperature_c&from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", grower.OwnerToken);
        using var both = await grower.Telemetry.GetAsync($"/api/v1/streams/telemetry?device_id={device.DeviceId}&zone_id={grower.ZoneId}", grower.OwnerToken);
        using var tooMany = await grower.Telemetry.GetAsync($"/api/v1/devices/{device.DeviceId}/readings?metric=temperature_c&limit=1001", grower.OwnerToken);

        var problem = await ProblemAssert.IsProblemAsync(backwards, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Equal("from", problem.GetProperty("errors")[0].GetProperty("parameter").GetString());
        await ProblemAssert.IsProblemAsync(both, HttpStatusCode.UnprocessableEntity, "validation-failed");
        var limit = await ProblemAssert.IsProblemAsync(tooMany, HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal("limit", limit.GetProperty("errors")[0].GetProperty("parameter").GetString());
    }

    [Fact]
    public async Task Given_readings_then_a_late_one_Then_the_rollup_worker_keeps_5_minute_hour_and_day_buckets_exact_from_the_backlog()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        var hour = new DateTimeOffset(DateTime.UtcNow.AddHours(-3).Ticks / TimeSpan.TicksPerHour * TimeSpan.TicksPerHour, TimeSpan.Zero);
        await CountsAsync(await device.SendAsync(
            Reading("temperature_c", 20, hour.AddMinutes(1)), Reading("temperature_c", 24, hour.AddMinutes(2)), Reading("temperature_c", 22, hour.AddMinutes(3)),
            Reading("temperature_c", 18, hour.AddMinutes(31))));
        await RolledUpAsync(device.DeviceId);

        var fiveMinutes = await RollupsAsync(grower, device.DeviceId, "5m", hour);
        var hourly = Assert.Single(await RollupsAsync(grower, device.DeviceId, "1h", hour));

        Assert.Equal(2, fiveMinutes.Count);
        Assert.Equal((20.0, 24.0, 22.0, 3, 22.0), Summary(fiveMinutes[0]));
        Assert.Equal(hour, fiveMinutes[0].GetProperty("bucket_start").GetDateTimeOffset());
        Assert.Equal((18.0, 18.0, 18.0, 1, 18.0), Summary(fiveMinutes[1]));
        Assert.Equal((18.0, 24.0, 21.0, 4, 18.0), Summary(hourly));

        // A late reading, in the first bucket but earlier than its others: min, avg and count move, last does not.
        await CountsAsync(await device.SendAsync(Reading("temperature_c", 10, hour.AddSeconds(10))));
        await RolledUpAsync(device.DeviceId);

        Assert.Equal((10.0, 24.0, 19.0, 4, 22.0), Summary((await RollupsAsync(grower, device.DeviceId, "5m", hour))[0]));
        Assert.Equal((10.0, 24.0, 18.8, 5, 18.0), Summary(Assert.Single(await RollupsAsync(grower, device.DeviceId, "1h", hour))));
        var daily = Assert.Single(await RollupsAsync(grower, device.DeviceId, "1d", hour.AddHours(-hour.Hour)));
        Assert.Equal(5, daily.GetProperty("count").GetInt32());
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM telemetry.rollup_backlog WHERE device_id = $1", device.DeviceId));
    }

    [Fact]
    public async Task Given_another_worker_holding_the_rollup_turn_Then_a_worker_takes_nothing_and_once_the_turn_is_free_the_buckets_come_out_exact()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        var hour = new DateTimeOffset(DateTime.UtcNow.AddHours(-2).Ticks / TimeSpan.TicksPerHour * TimeSpan.TicksPerHour, TimeSpan.Zero);
        var worker = host.Factory.Services.GetRequiredService<RollupWorker>();

        // A second instance's worker, mid-run: it holds the turn for as long as its transaction lasts.
        await using var other = new NpgsqlConnection(TestServers.PostgresOwnerConnectionString);
        await other.OpenAsync();
        await using var run = await other.BeginTransactionAsync();
        await using (var turn = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('telemetry.rollups'))", other, run))
        {
            await turn.ExecuteScalarAsync();
        }

        await CountsAsync(await device.SendAsync(Reading("temperature_c", 20, hour.AddMinutes(1)), Reading("temperature_c", 26, hour.AddMinutes(7))));
        var whileHeld = await worker.RollUpAsync(CancellationToken.None);
        var queued = await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM telemetry.rollup_backlog WHERE device_id = $1", device.DeviceId);
        var rolled = await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM telemetry.rollups WHERE device_id = $1", device.DeviceId);
        await run.RollbackAsync();
        await RolledUpAsync(device.DeviceId);

        Assert.Equal(0, whileHeld);
        Assert.Equal(2L, queued);
        Assert.Equal(0L, rolled);
        Assert.Equal([(20.0, 20.0, 20.0, 1, 20.0), (26.0, 26.0, 26.0, 1, 26.0)], (await RollupsAsync(grower, device.DeviceId, "5m", hour)).Select(Summary));
        Assert.Equal((20.0, 26.0, 23.0, 2, 26.0), Summary(Assert.Single(await RollupsAsync(grower, device.DeviceId, "1h", hour))));
    }

    private static async Task RolledUpAsync(Guid deviceId) =>
        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM telemetry.rollup_backlog WHERE device_id = $1", deviceId) == 0
            && await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM telemetry.rollups WHERE device_id = $1 AND width = 86400", deviceId) > 0, "the rollup worker took the backlog");

    private static async Task<List<JsonElement>> RollupsAsync(Grower grower, Guid deviceId, string bucket, DateTimeOffset from)
    {
        using var response = await grower.Telemetry.GetAsync(
            $"/api/v1/devices/{deviceId}/rollups?metric=temperature_c&bucket={bucket}&from={Uri.EscapeDataString(from.ToString("O"))}", grower.OwnerToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await IdentityApi.Json(response)).GetProperty("data").EnumerateArray().ToList();
    }

    private static (double Min, double Max, double Avg, int Count, double Last) Summary(JsonElement rollup) => (
        rollup.GetProperty("min").GetDouble(), rollup.GetProperty("max").GetDouble(), Math.Round(rollup.GetProperty("avg").GetDouble(), 6),
        rollup.GetProperty("count").GetInt32(), rollup.GetProperty("last").GetDouble());
}
