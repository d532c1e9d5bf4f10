using System.Net;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Telemetry.Features;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static Canopy.Api.Tests.Telemetry.TelemetryApi;

namespace Canopy.Api.Tests.Telemetry;

public sealed class IngestionTests(TelemetryHost host) : IClassFixture<TelemetryHost>
{
    private static readonly DateTimeOffset Hour = new DateTimeOffset(DateTime.UtcNow.AddHours(-2).Ticks / TimeSpan.TicksPerHour * TimeSpan.TicksPerHour, TimeSpan.Zero);

    [Fact]
    public async Task Given_a_batch_Then_its_readings_are_stored_for_the_token_s_device_and_a_resend_only_counts_duplicates()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        object[] batch = [Reading("temperature_c", 21.5, Hour), Reading("humidity_pct", 64, Hour), Reading("co2_ppm", 812, Hour.AddSeconds(30))];

        var first = await CountsAsync(await device.SendAsync(batch));
        var again = await CountsAsync(await device.SendAsync(batch));

        Assert.Equal((3, 0), first);
        Assert.Equal((0, 3), again);
        Assert.Equal(3, await StoredAsync(device.DeviceId));
        Assert.Equal(grower.TenantId, await IdentityApi.ScalarAsync<Guid>("SELECT DISTINCT tenant_id FROM telemetry.readings WHERE device_id = $1", device.DeviceId));
        Assert.Equal(812, await IdentityApi.ScalarAsync<double>(
            "SELECT value FROM telemetry.readings r JOIN telemetry.metrics m ON m.code = r.metric WHERE device_id = $1 AND m.name = 'co2_ppm'", device.DeviceId));
    }

    [Fact]
    public async Task Given_a_batch_repeating_stored_readings_and_one_of_its_own_Then_only_the_new_reading_is_stored_and_every_repeat_is_counted()
    {
        var device = await (await host.NewGrowerAsync()).SenderAsync();
        Assert.Equal((2, 0), await CountsAsync(await device.SendAsync([Reading("temperature_c", 21, Hour), Reading("humidity_pct", 60, Hour)])));
        using var rewritten = new HostCounter(host.Factory.Services, "telemetry.batches.rewritten");

        // The plain INSERT meets the stored rows, rolls back whole, and the batch is written again skipping repeats.
        var mixed = await CountsAsync(await device.SendAsync(
            [Reading("temperature_c", 25, Hour), Reading("humidity_pct", 61, Hour), Reading("co2_ppm", 700, Hour), Reading("co2_ppm", 701, Hour)]));
        var fresh = await CountsAsync(await device.SendAsync([Reading("co2_ppm", 702, Hour.AddSeconds(1))]));

        Assert.Equal((1, 3), mixed);
        Assert.Equal((1, 0), fresh);
        Assert.Equal(1L, rewritten.Total);
        Assert.Equal(4, await StoredAsync(device.DeviceId));
        Assert.Equal(21, await IdentityApi.ScalarAsync<double>(
            "SELECT value FROM telemetry.readings r JOIN telemetry.metrics m ON m.code = r.metric WHERE device_id = $1 AND m.name = 'temperature_c'", device.DeviceId));
        // (The first of the batch's two co2 readings at one time; the later batch's is a second on.)
        Assert.Equal(700, await IdentityApi.ScalarAsync<double>(
            "SELECT value FROM telemetry.readings r JOIN telemetry.metrics m ON m.code = r.metric WHERE device_id = $1 AND m.name = 'co2_ppm' AND recorded_at = $2",
            device.DeviceId, Hour));
    }

    [Fact]
    public async Task Given_the_metric_catalogue_Then_the_service_and_the_database_agree_and_a_reading_of_an_uncatalogued_code_is_refused_by_the_database()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        var catalogue = await IdentityApi.ScalarAsync<string>("SELECT string_agg(code || '=' || name, ',' ORDER BY code) FROM telemetry.metrics");

        Assert.Equal(string.Join(',', Canopy.Telemetry.Domain.StoredMetrics.All.OrderBy(m => m.Value).Select(m => $"{m.Value}={m.Key}")), catalogue);
        // One reading of every catalogued code is stored (a metric added without widening the CHECK fails here) ...
        Assert.Equal(StoredMetricsCount, await IdentityApi.ExecuteAsOwnerAsync(
            "INSERT INTO telemetry.readings (tenant_id, device_id, metric, recorded_at, value) SELECT $1, $2, code, $3, 1 FROM telemetry.metrics",
            grower.TenantId, device.DeviceId, Hour));
        // ... and codes on either side of the catalogue are not.
        foreach (var code in new short[] { 0, (short)(StoredMetricsCount + 1) })
        {
            var refused = await Assert.ThrowsAsync<PostgresException>(() => IdentityApi.ExecuteAsOwnerAsync(
                "INSERT INTO telemetry.readings (tenant_id, device_id, metric, recorded_at, value) VALUES ($1, $2, $3, $4, 1)", grower.TenantId, device.DeviceId, code, Hour));
            Assert.Equal((PostgresErrorCodes.CheckViolation, "readings_metric_catalogued"), (refused.SqlState, refused.ConstraintName));
        }
    }

    private static int StoredMetricsCount => Canopy.Telemetry.Domain.StoredMetrics.All.Count;

    [Fact]
    public async Task Given_two_identical_batches_at_once_Then_one_set_of_rows_is_stored_and_both_answers_add_up()
    {
        var device = await (await host.NewGrowerAsync()).SenderAsync();
        var batch = Enumerable.Range(0, 500).Select(i => Reading("temperature_c", 20 + (i % 10) / 10.0, Hour.AddSeconds(i))).ToArray();

        var answers = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () => await CountsAsync(await device.SendAsync(batch)))));

        Assert.Equal(500, await StoredAsync(device.DeviceId));
        Assert.All(answers, a => Assert.Equal(500, a.Accepted + a.Duplicates));
        Assert.Equal(500, answers.Sum(a => a.Accepted));
        Assert.Equal(500, answers.Sum(a => a.Duplicates));
    }

    [Fact]
    public async Task Given_a_device_decommissioned_a_moment_ago_Then_its_still_unexpired_token_is_refused_and_nothing_is_written()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        using (var decommissioned = await grower.Fleet.VerbAsync(device.DeviceId, "decommission"))
        {
            Assert.Equal(HttpStatusCode.OK, decommissioned.StatusCode);
        }

        using var refused = await device.SendAsync(Reading("temperature_c", 21, Hour));

        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Unauthorized, "invalid-device-credentials");
        Assert.Equal(0, await StoredAsync(device.DeviceId));
    }

    [Fact]
    public async Task Given_a_batch_and_a_decommissioning_at_once_Then_either_the_batch_is_stored_before_or_refused_after_never_half()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        var etag = await grower.Fleet.ETagAsync($"/api/v1/devices/{device.DeviceId}");
        var batch = Enumerable.Range(0, 2000).Select(i => Reading("humidity_pct", 50 + (i % 7), Hour.AddSeconds(i))).ToArray();

        var send = Task.Run(() => device.SendAsync(batch));
        var decommission = Task.Run(() => grower.Fleet.VerbAsync(device.DeviceId, "decommission", etag: etag));
        using var sent = await send;
        using var decommissioned = await decommission;

        Assert.Equal(HttpStatusCode.OK, decommissioned.StatusCode);
        Assert.Contains(sent.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.Unauthorized });
        Assert.Equal(sent.StatusCode == HttpStatusCode.OK ? 2000 : 0, await StoredAsync(device.DeviceId));
    }

    [Fact]
    public async Task Given_5001_readings_Then_the_batch_is_refused_whole_and_nothing_is_written()
    {
        var device = await (await host.NewGrowerAsync()).SenderAsync();
        var batch = Enumerable.Range(0, 5001).Select(i => Reading("temperature_c", 20, Hour.AddSeconds(i))).ToArray();

        using var refused = await device.SendAsync(batch);

        var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Contains(problem.GetProperty("errors").EnumerateArray(), e => e.GetProperty("pointer").GetString() == "#/readings");
        Assert.Equal(0, await StoredAsync(device.DeviceId));
    }

    [Theory]
    [InlineData("temperature_c", -40, 85)]
    [InlineData("humidity_pct", 0, 100)]
    [InlineData("co2_ppm", 0, 10_000)]
    [InlineData("battery_v", 0, 15)]
    [InlineData("soil_moisture_pct", 0, 100)]
    [InlineData("light_ppfd", 0, 3_000)]
    public async Task Given_a_value_at_and_just_past_each_end_of_its_metric_s_range_Then_the_ends_are_stored_and_the_batch_with_one_past_is_refused_whole(
        string metric, double min, double max)
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync(metric switch
        {
            "soil_moisture_pct" => "seeed-sensecap-s2105",
            "light_ppfd" => "apogee-sq-520",
            _ => "milesight-em500-co2",
        });

        var ends = await CountsAsync(await device.SendAsync(Reading(metric, min, Hour), Reading(metric, max, Hour.AddSeconds(1))));
        using var below = await device.SendAsync(Reading(metric, (min + max) / 2, Hour.AddSeconds(2)), Reading(metric, min - 0.001, Hour.AddSeconds(3)));
        using var above = await device.SendAsync(Reading(metric, max + 0.001, Hour.AddSeconds(4)));

        Assert.Equal((2, 0), ends);
        var belowProblem = await ProblemAssert.IsProblemAsync(below, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Equal("#/readings/1/value", Assert.Single(belowProblem.GetProperty("errors").EnumerateArray()).GetProperty("pointer").GetString());
        var aboveProblem = await ProblemAssert.IsProblemAsync(above, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Equal("#/readings/0/value", Assert.Single(aboveProblem.GetProperty("errors").EnumerateArray()).GetProperty("pointer").GetString());
        Assert.Equal(2, await StoredAsync(device.DeviceId));
    }

    [Fact]
    public async Task Given_readings_of_metrics_the_device_does_not_report_and_more_than_20_bad_Then_the_first_20_are_pointed_at_and_nothing_is_written()
    {
        var device = await (await host.NewGrowerAsync()).SenderAsync("apogee-sq-520");
        var batch = new object[] { Reading("light_ppfd", 400, Hour) }
            .Concat(Enumerable.Range(1, 30).Select(i => Reading("co2_ppm", 500, Hour.AddSeconds(i)))).ToArray();

        using var refused = await device.SendAsync(batch);

        var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.UnprocessableEntity, "validation-failed");
        var errors = problem.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal(20, errors.Count);
        Assert.Equal("#/readings/1/metric", errors[0].GetProperty("pointer").GetString());
        Assert.Contains("light_ppfd", errors[0].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await StoredAsync(device.DeviceId));
    }

    [Fact]
    public async Task Given_a_device_not_activated_yet_Then_its_batch_is_a_conflict_and_nothing_is_written()
    {
        var grower = await host.NewGrowerAsync();
        var (id, secret) = await grower.DeviceAsync(activate: false);
        var token = await grower.Telemetry.TokenAsync(id, secret);

        using var refused = await grower.Telemetry.IngestAsync(token, [Reading("temperature_c", 20, Hour)]);

        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Conflict, "conflict");
        Assert.Equal(0, await StoredAsync(id));
    }

    [Fact]
    public async Task Given_a_member_s_access_token_Then_ingestion_refuses_it_and_a_device_token_opens_no_member_operation()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();

        using var memberIngests = await grower.Telemetry.IngestAsync(grower.OwnerToken, [Reading("temperature_c", 20, Hour)]);
        using var deviceReadsFarms = await grower.Telemetry.GetAsync("/api/v1/farms", device.Token);
        using var deviceReadsItsReadings = await grower.Telemetry.GetAsync($"/api/v1/devices/{device.DeviceId}/readings?metric=temperature_c", device.Token);

        await ProblemAssert.IsProblemAsync(memberIngests, HttpStatusCode.Unauthorized, "invalid-device-credentials");
        Assert.Equal("Bearer error=\"invalid_token\"", memberIngests.Headers.WwwAuthenticate.ToString());
        await ProblemAssert.IsProblemAsync(deviceReadsFarms, HttpStatusCode.Unauthorized, "unauthenticated");
        await ProblemAssert.IsProblemAsync(deviceReadsItsReadings, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Equal(0, await StoredAsync(device.DeviceId));
    }

    [Fact]
    public async Task Given_an_offline_device_that_sends_Then_fleet_records_it_seen_and_turns_it_active_again_through_the_event()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        await IdentityApi.ExecuteAsOwnerAsync("UPDATE fleet.devices SET status = 'OFFLINE', last_seen_at = now() - interval '2 hours' WHERE id = $1", device.DeviceId);

        await CountsAsync(await device.SendAsync(Reading("temperature_c", 19.5, Hour)));

        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<string>("SELECT status FROM fleet.devices WHERE id = $1", device.DeviceId) == "ACTIVE",
            "Fleet turned the device ACTIVE again");
        var seen = await IdentityApi.ScalarAsync<DateTime>("SELECT last_seen_at FROM fleet.devices WHERE id = $1", device.DeviceId);
        Assert.True(DateTime.UtcNow - seen < TimeSpan.FromMinutes(1), $"last_seen_at is {seen:O}");
        var events = await Fleet.DeviceTests.OutboxAsync(device.DeviceId);
        Assert.Single(events, e => e.Type == "telemetry.device_reported");
        var online = Assert.Single(events, e => e.Type == "device.came_online").Payload;
        Assert.Equal("OFFLINE", online.GetProperty("previous_status").GetString());
        Assert.Equal("ACTIVE", online.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Given_a_device_seen_a_moment_ago_Then_its_next_batches_raise_no_further_sighting()
    {
        var device = await (await host.NewGrowerAsync()).SenderAsync();

        await CountsAsync(await device.SendAsync(Reading("temperature_c", 19.5, Hour)));
        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<DateTime?>("SELECT last_seen_at FROM fleet.devices WHERE id = $1", device.DeviceId) is not null,
            "Fleet recorded the device seen");
        await CountsAsync(await device.SendAsync(Reading("temperature_c", 19.6, Hour.AddSeconds(10))));
        await CountsAsync(await device.SendAsync(Reading("temperature_c", 19.7, Hour.AddSeconds(20))));

        Assert.Single(await Fleet.DeviceTests.OutboxAsync(device.DeviceId), e => e.Type == "telemetry.device_reported");
    }

    [Fact]
    public async Task Given_readings_exactly_5_minutes_ahead_and_exactly_at_the_retention_edge_Then_they_are_stored_and_a_second_further_is_refused()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        await using var clocked = IdentityHosts.WithClock(new TestClock(now));
        var grower = await host.NewGrowerAsync();
        var (id, secret) = await grower.DeviceAsync();
        var api = new TelemetryApi(clocked.CreateClient());
        var token = await api.TokenAsync(id, secret);
        var edge = now.AddDays(-400);

        var atEdges = await CountsAsync(await api.IngestAsync(token, [Reading("temperature_c", 20, now.AddMinutes(5)), Reading("temperature_c", 20, edge)]));
        using var ahead = await api.IngestAsync(token, [Reading("temperature_c", 20, now.AddMinutes(5).AddSeconds(1))]);
        using var old = await api.IngestAsync(token, [Reading("temperature_c", 20, now), Reading("temperature_c", 20, edge.AddSeconds(-1))]);

        Assert.Equal((2, 0), atEdges);
        var aheadProblem = await ProblemAssert.IsProblemAsync(ahead, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Equal("#/readings/0/recorded_at", Assert.Single(aheadProblem.GetProperty("errors").EnumerateArray()).GetProperty("pointer").GetString());
        var oldProblem = await ProblemAssert.IsProblemAsync(old, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Equal("#/readings/1/recorded_at", Assert.Single(oldProblem.GetProperty("errors").EnumerateArray()).GetProperty("pointer").GetString());
        Assert.Equal(2, await StoredAsync(id));
    }

    [Fact]
    public async Task Given_the_database_held_and_every_turn_taken_Then_a_batch_is_answered_503_with_retry_after_and_the_held_one_lands_later()
    {
        await using var busy = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["Telemetry:MaxConcurrentBatches"] = "1",
            ["Telemetry:MaxBatchWaitMilliseconds"] = "50",
        });
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        var api = new TelemetryApi(busy.CreateClient());

        // Hold the device row the way a long transaction would: the first batch takes the only turn and waits.
        await using var owner = new NpgsqlConnection(TestServers.PostgresOwnerConnectionString);
        await owner.OpenAsync();
        await using var hold = await owner.BeginTransactionAsync();
        await using (var scope = new NpgsqlCommand("SELECT set_config('app.scope', 'platform', true)", owner, hold))
        {
            await scope.ExecuteScalarAsync();
        }

        await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM fleet.devices WHERE id = $1 FOR UPDATE", owner, hold) { Parameters = { new() { Value = device.DeviceId } } })
        {
            Assert.Equal(1, await lockRow.ExecuteScalarAsync());
        }

        var held = api.IngestAsync(device.Token, [Reading("temperature_c", 20, Hour)]);
        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<long>(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND $1 = ANY(pg_blocking_pids(pid))", owner.ProcessID) > 0, "the first batch waits for the row");
        using var refused = await api.IngestAsync(device.Token, [Reading("temperature_c", 21, Hour.AddSeconds(1))]);
        await hold.RollbackAsync();
        var landed = await CountsAsync(await held);

        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "service-unavailable");
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        Assert.Equal((1, 0), landed);
        Assert.Equal(1, await StoredAsync(device.DeviceId));
    }

    /// <summary>Shares this class with the retention-edge test, which needs the oldest partition: tests of a class run one at a time.</summary>
    [Fact]
    public async Task Given_partitions_past_the_retention_window_Then_the_worker_drops_them_whole_and_keeps_the_window_covered_ahead()
    {
        var now = DateTimeOffset.UtcNow;
        var horizon = now.AddDays(40 - 400);
        var expired = (await PartitionsAsync()).Where(p => PartitionEnd(p) <= horizon).ToList();
        Assert.NotEmpty(expired);
        try
        {
            // 40 days later: the host's own worker maintains at start-up, and again when asked.
            await using var later = IdentityHosts.WithClock(new TestClock(now.AddDays(40)));
            var worker = later.Services.GetRequiredService<PartitionWorker>();

            var dropped = await worker.MaintainAsync(CancellationToken.None);
            var again = await worker.MaintainAsync(CancellationToken.None);

            var left = await PartitionsAsync();
            Assert.All(dropped, name => Assert.Contains(name, expired));
            Assert.Empty(again);
            Assert.Empty(left.Intersect(expired));
            Assert.All(left, name => Assert.True(PartitionEnd(name) > horizon, $"{name} ends before the retention horizon {horizon:O}"));
            Assert.Contains($"readings_{now.AddDays(40 + 62):yyyy_MM}", left);
        }
        finally
        {
            // The test database serves every test: the window of today's clock is restored (empty).
            await IdentityApi.ExecuteAsOwnerAsync("SELECT telemetry.ensure_partitions(now() - interval '400 days', now() + interval '62 days')");
        }

        static DateTimeOffset PartitionEnd(string name) =>
            new DateTimeOffset(int.Parse(name[9..13], System.Globalization.CultureInfo.InvariantCulture), int.Parse(name[14..16], System.Globalization.CultureInfo.InvariantCulture), 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
    }

    private static async Task<List<string>> PartitionsAsync() =>
        (await IdentityApi.ScalarAsync<string>("""
            SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'telemetry.readings'::regclass
            """))!.Split(',').ToList();
}
