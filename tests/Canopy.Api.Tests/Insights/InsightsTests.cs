using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Canopy.Api.Tests.Fleet;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Api.Tests.Telemetry;
using Canopy.Insights.Features;
using Canopy.Platform.Redis;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StackExchange.Redis;
using static Canopy.Api.Tests.Telemetry.TelemetryApi;

namespace Canopy.Api.Tests.Insights;

/// <summary>
/// The view models, on a host that delivers events as a deployment's single process does and
/// reads its read models from the real standby; serial with the tests that hold the standby or
/// start processes with a Redis of their own (<see cref="SerialTests"/>).
/// </summary>
[Collection(SerialTests.Name)]
public sealed class InsightsTests(TelemetryHost host) : IClassFixture<TelemetryHost>
{
    private const string FleetStatus = "/api/v1/summaries/fleet-status";

    [Fact]
    public async Task Given_a_fleet_status_panel_read_twice_Then_the_second_is_the_cached_answer_until_a_fault_clears_it_and_another_organisation_sees_none_of_it()
    {
        var grower = await host.NewGrowerAsync();
        var other = await host.NewGrowerAsync();
        var farm = await FarmOfAsync(grower);
        var (active, _) = await grower.DeviceAsync();
        await grower.DeviceAsync(activate: false);
        await FarmStatusAsync(grower, farm, f => f.GetProperty("devices").GetProperty("active").GetInt32() == 1
            && f.GetProperty("devices").GetProperty("provisioned").GetInt32() == 1, "both devices are counted");

        // The clearing of the last event may land just after the answer above: within a few reads,
        // two in a row are one cached answer.
        JsonElement cached = default;
        var repeated = false;
        string? previous = null;
        for (var i = 0; i < 5 && !repeated; i++)
        {
            using var again = await grower.Fleet.GetAsync(FleetStatus);
            Assert.Equal((true, TimeSpan.FromSeconds(60)), (again.Headers.CacheControl!.Private, again.Headers.CacheControl.MaxAge));
            cached = await FleetApi.Json(again);
            repeated = cached.GetProperty("generated_at").GetString() == previous;
            previous = cached.GetProperty("generated_at").GetString();
        }

        Assert.True(repeated, "two reads in a row were the same cached answer");

        using (var fault = await grower.Fleet.VerbAsync(active, "report-fault", new { code = "battery_low", note = "3.1 V" }))
        {
            Assert.Equal(HttpStatusCode.OK, fault.StatusCode);
        }

        var clock = Stopwatch.StartNew();
        var after = await FarmStatusAsync(grower, farm, f => f.GetProperty("devices").GetProperty("fault").GetInt32() == 1, "the fault is counted");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the fault showed after {clock.Elapsed}: the cached panel was not cleared (it lives 60 s)");
        Assert.Equal((0, 1, 1), (after.Farm.GetProperty("devices").GetProperty("active").GetInt32(), after.Farm.GetProperty("devices").GetProperty("provisioned").GetInt32(),
            after.Farm.GetProperty("battery_low").GetInt32()));
        Assert.NotEqual(cached.GetProperty("generated_at").GetString(), after.Summary.GetProperty("generated_at").GetString());
        using var foreign = await other.Fleet.GetAsync(FleetStatus);
        Assert.DoesNotContain((await FleetApi.Json(foreign)).GetProperty("farms").EnumerateArray(), f => f.GetProperty("farm_id").GetGuid() == farm);
    }

    [Fact]
    public async Task Given_a_cached_fleet_status_panel_When_a_device_moves_to_another_farm_Then_the_next_reads_count_it_in_its_new_farm()
    {
        var grower = await host.NewGrowerAsync();
        var farm = await FarmOfAsync(grower);
        var otherFarm = (await grower.Fleet.NewFarmAsync()).GetProperty("id").GetGuid();
        var otherZone = (await grower.Fleet.NewZoneAsync(otherFarm)).GetProperty("id").GetGuid();
        var (device, _) = await grower.DeviceAsync();
        await FarmStatusAsync(grower, farm, f => f.GetProperty("devices").GetProperty("active").GetInt32() == 1, "the device is counted in its farm");
        var cached = await CachedAsync(grower);
        var version = await IdentityApi.ScalarAsync<int>("SELECT version FROM fleet.devices WHERE id = $1", device);

        using (var moved = await grower.Fleet.PostAsync($"/api/v1/devices/{device}/move", new { zone_id = otherZone }, ifMatch: $"\"{version}\""))
        {
            Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        }

        var clock = Stopwatch.StartNew();
        var after = await FarmStatusAsync(grower, otherFarm, f => f.GetProperty("devices").GetProperty("active").GetInt32() == 1, "the device is counted in its new farm");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the move showed after {clock.Elapsed}: the cached panel was not cleared (it lives 60 s)");
        var left = after.Summary.GetProperty("farms").EnumerateArray().Single(f => f.GetProperty("farm_id").GetGuid() == farm);
        Assert.Equal(0, left.GetProperty("devices").GetProperty("active").GetInt32());
        Assert.NotEqual(cached.GetProperty("generated_at").GetString(), after.Summary.GetProperty("generated_at").GetString());
    }

    /// <summary>Reads the panel until two reads in a row are one cached answer (the clearing of the last event may land just after the first).</summary>
    private static async Task<JsonElement> CachedAsync(Grower grower, string path = FleetStatus)
    {
        string? previous = null;
        for (var i = 0; i < 5; i++)
        {
            using var again = await grower.Fleet.GetAsync(path);
            var answer = await FleetApi.Json(again);
            if (answer.GetProperty("generated_at").GetString() == previous)
            {
                return answer;
            }

            previous = answer.GetProperty("generated_at").GetString();
        }

        Assert.Fail("no two reads in a row were the same cached answer");
        return default;
    }

    [Fact]
    public async Task Given_200_requests_at_once_for_a_cleared_view_Then_it_is_built_once_and_all_get_that_answer()
    {
        var grower = await host.NewGrowerAsync();
        await FarmStatusAsync(grower, await FarmOfAsync(grower), _ => true, "the farm is in the read model");
        await host.Factory.Services.GetRequiredService<ReadModels>().ClearAsync(grower.TenantId, [ViewFamily.Fleet], CancellationToken.None);
        using var rebuilds = new HostCounter(host.Factory.Services, "cache.rebuilds", ("view", "getFleetStatusSummary"));

        var answers = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(async () =>
        {
            using var response = await grower.Fleet.GetAsync(FleetStatus);
            return (response.StatusCode, (await FleetApi.Json(response)).GetProperty("generated_at").GetString());
        })));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Single(answers.Select(a => a.Item2).Distinct());
        Assert.Equal(1, rebuilds.Total);
    }

    [Fact]
    public async Task Given_a_burst_for_a_zone_that_does_not_exist_Then_the_database_is_asked_once_and_every_answer_is_404()
    {
        var grower = await host.NewGrowerAsync();
        var missing = Guid.CreateVersion7();
        // The grower's own zone reaching the read model clears its charts: let that happen first.
        var redis = host.Factory.Services.GetRequiredService<RedisConnection>();
        await EventuallyAsync(() => redis.ExecuteAsync("EXISTS", db => db.KeyExistsAsync(ReadModels.Scope(grower.TenantId, ViewFamily.Trends) + ":gen")),
            "the zone reached the read model and cleared its charts");
        using var reads = new HostCounter(host.Factory.Services, "insights.reads");

        var statuses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(async () =>
        {
            using var response = await grower.Fleet.GetAsync($"/api/v1/metrics/trend-chart?zone_id={missing}&metric=temperature_c");
            return response.StatusCode;
        })));
        using var last = await grower.Fleet.GetAsync($"/api/v1/metrics/trend-chart?zone_id={missing}&metric=temperature_c");

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.NotFound, s));
        await ProblemAssert.IsProblemAsync(last, HttpStatusCode.NotFound, "not-found");
        Assert.Equal(1, reads.Total);
    }

    [Fact]
    public async Task Given_a_zone_reporting_readings_Then_its_trend_chart_merges_the_devices_rollups_per_bucket_and_refuses_bad_ranges()
    {
        var grower = await host.NewGrowerAsync();
        var first = await grower.SenderAsync();
        var second = await grower.SenderAsync();
        var other = await host.NewGrowerAsync();
        var hour = new DateTimeOffset(DateTimeOffset.UtcNow.AddHours(-3).Ticks / TimeSpan.TicksPerHour * TimeSpan.TicksPerHour, TimeSpan.Zero);
        await CountsAsync(await first.SendAsync(Reading("temperature_c", 20, hour.AddMinutes(1)), Reading("temperature_c", 22, hour.AddMinutes(2))));
        await CountsAsync(await second.SendAsync(Reading("temperature_c", 27, hour.AddMinutes(3)), Reading("temperature_c", 18, hour.AddMinutes(31))));
        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<long>(
            "SELECT count(*) FROM telemetry.rollups WHERE device_id = ANY($1) AND width = 300", new[] { first.DeviceId, second.DeviceId }) == 3, "the readings were rolled up");
        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM insights.devices WHERE device_id = ANY($1)",
            new[] { first.DeviceId, second.DeviceId }) == 2, "both devices are in the read model");

        using var response = await grower.Fleet.GetAsync($"/api/v1/metrics/trend-chart?zone_id={grower.ZoneId}&metric=temperature_c&from={Iso(hour)}&to={Iso(hour.AddHours(1))}");
        var chart = await FleetApi.Json(response);
        using var tooLong = await grower.Fleet.GetAsync($"/api/v1/metrics/trend-chart?zone_id={grower.ZoneId}&metric=temperature_c&from={Iso(hour.AddDays(-401))}&to={Iso(hour)}");
        using var backwards = await grower.Fleet.GetAsync($"/api/v1/metrics/trend-chart?zone_id={grower.ZoneId}&metric=temperature_c&from={Iso(hour)}&to={Iso(hour)}");
        using var foreign = await other.Fleet.GetAsync($"/api/v1/metrics/trend-chart?zone_id={grower.ZoneId}&metric=temperature_c");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(("5m", hour, hour.AddHours(1)), (chart.GetProperty("bucket").GetString(), chart.GetProperty("from").GetDateTimeOffset(), chart.GetProperty("to").GetDateTimeOffset()));
        var points = chart.GetProperty("points").EnumerateArray().Select(p => (
            p.GetProperty("bucket_start").GetDateTimeOffset(), p.GetProperty("min").GetDouble(), p.GetProperty("max").GetDouble(), p.GetProperty("avg").GetDouble(),
            p.GetProperty("count").GetInt64())).ToList();
        Assert.Equal([(hour, 20, 27, 23, 3), (hour.AddMinutes(30), 18, 18, 18, 1)], points);
        var range = await ProblemAssert.IsProblemAsync(tooLong, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Equal("to", range.GetProperty("errors")[0].GetProperty("parameter").GetString());
        await ProblemAssert.IsProblemAsync(backwards, HttpStatusCode.UnprocessableEntity, "validation-failed");
        await ProblemAssert.IsProblemAsync(foreign, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Given_faults_in_two_zones_and_an_alert_acknowledged_then_resolved_Then_the_reports_rank_the_zones_and_time_the_alert()
    {
        var grower = await host.NewGrowerAsync();
        var quiet = (await grower.Fleet.NewZoneAsync()).GetProperty("id").GetGuid();
        var (a, _) = await grower.DeviceAsync();
        var (b, _) = await grower.DeviceAsync();
        var (c, _) = await grower.DeviceAsync(zone: quiet);
        foreach (var device in new[] { a, b, c })
        {
            using var fault = await grower.Fleet.VerbAsync(device, "report-fault", new { code = "sensor_failure", note = "Reads zero" });
            Assert.Equal(HttpStatusCode.OK, fault.StatusCode);
        }

        var ranked = await EventuallyJsonAsync(grower, "/api/v1/analytics/top-faulting-zones?period=month", r => r.GetProperty("data").GetArrayLength() == 2, "both zones are ranked");
        Assert.Equal([(grower.ZoneId, 2, 2), (quiet, 1, 1)], ranked.GetProperty("data").EnumerateArray()
            .Select(z => (z.GetProperty("zone_id").GetGuid(), z.GetProperty("faults").GetInt32(), z.GetProperty("devices").GetInt32())));
        Assert.Equal("month", ranked.GetProperty("period").GetString());
        // A report lives its x-cache-ttl (an hour) in Redis, plus at most a tenth.
        Assert.InRange(await ViewLifetimeAsync(grower, "/api/v1/analytics/top-faulting-zones?period=month", ViewFamily.Faults), 3_599_000, 3_960_000);

        var open = await EventuallyJsonAsync(grower, "/api/v1/summaries/alerts", s => s.GetProperty("open").GetProperty("critical").GetInt32() == 3, "the three fault alerts are open");
        Assert.Equal(3, open.GetProperty("last_7_days").GetProperty("raised").GetInt32());
        Assert.Equal(JsonValueKind.Null, open.GetProperty("last_7_days").GetProperty("mtta_seconds").ValueKind);
        var alert = (await FleetApi.Json(await grower.Fleet.GetAsync("/api/v1/alerts?status=OPEN"))).GetProperty("data")[0].GetProperty("id").GetGuid();
        using (var acknowledged = await grower.Fleet.PostAsync($"/api/v1/alerts/{alert}/acknowledge", ifMatch: "\"1\""))
        using (var resolved = await grower.Fleet.PostAsync($"/api/v1/alerts/{alert}/resolve", ifMatch: "\"2\""))
        {
            Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (acknowledged.StatusCode, resolved.StatusCode));
        }

        var timed = await EventuallyJsonAsync(grower, "/api/v1/summaries/alerts", s => s.GetProperty("last_7_days").GetProperty("resolved").GetInt32() == 1, "the resolution is counted");
        var week = timed.GetProperty("last_7_days");
        Assert.Equal((2, 3, 1, 1), (timed.GetProperty("open").GetProperty("total").GetInt32(), week.GetProperty("raised").GetInt32(),
            week.GetProperty("acknowledged").GetInt32(), week.GetProperty("resolved").GetInt32()));
        Assert.InRange(week.GetProperty("mtta_seconds").GetDouble(), 0, 60);
        Assert.True(week.GetProperty("mttr_seconds").GetDouble() >= week.GetProperty("mtta_seconds").GetDouble());
        Assert.Equal(week.GetProperty("resolved").GetInt32(), timed.GetProperty("last_30_days").GetProperty("resolved").GetInt32());

        // A new alert clears the cached summary: the next reads count it, long before its 60 s TTL.
        var cached = await CachedAsync(grower, "/api/v1/summaries/alerts");
        var (d, _) = await grower.DeviceAsync(zone: quiet);
        using (var fault = await grower.Fleet.VerbAsync(d, "report-fault", new { code = "sensor_failure", note = "Reads zero" }))
        {
            Assert.Equal(HttpStatusCode.OK, fault.StatusCode);
        }

        var clock = Stopwatch.StartNew();
        var raised = await EventuallyJsonAsync(grower, "/api/v1/summaries/alerts", s => s.GetProperty("open").GetProperty("total").GetInt32() == 3, "the new alert is counted");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the new alert showed after {clock.Elapsed}: the cached summary was not cleared (it lives 60 s)");
        Assert.Equal(4, raised.GetProperty("last_7_days").GetProperty("raised").GetInt32());
        Assert.NotEqual(cached.GetProperty("generated_at").GetString(), raised.GetProperty("generated_at").GetString());
        Assert.InRange(await ViewLifetimeAsync(grower, "/api/v1/summaries/alerts", ViewFamily.Alerts), 59_000, 66_000);

        // Another organisation's reports hold none of it.
        var other = await host.NewGrowerAsync();
        using var theirZones = await other.Fleet.GetAsync("/api/v1/analytics/top-faulting-zones?period=month");
        using var theirAlerts = await other.Fleet.GetAsync("/api/v1/summaries/alerts");
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (theirZones.StatusCode, theirAlerts.StatusCode));
        Assert.Equal(0, (await FleetApi.Json(theirZones)).GetProperty("data").GetArrayLength());
        var theirs = await FleetApi.Json(theirAlerts);
        Assert.Equal((0, 0), (theirs.GetProperty("open").GetProperty("total").GetInt32(), theirs.GetProperty("last_30_days").GetProperty("raised").GetInt32()));
    }

    /// <summary>
    /// The milliseconds left to the view <paramref name="path"/> answers, built by this read (its
    /// family is cleared first) and stored in the family's current generation (read again if an
    /// event moved the family on meanwhile).
    /// </summary>
    private async Task<long> ViewLifetimeAsync(Grower grower, string path, string family)
    {
        var redis = host.Factory.Services.GetRequiredService<RedisConnection>();
        var scope = ReadModels.Scope(grower.TenantId, family);
        for (var attempt = 0; attempt < 5; attempt++)
        {
            await host.Factory.Services.GetRequiredService<ReadModels>().ClearAsync(grower.TenantId, [family], CancellationToken.None);
            using (var read = await grower.Fleet.GetAsync(path))
            {
                Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            }

            // The family's generation, its views in it (not their locks), and the PTTL of the only one (-3 when not one).
            var left = (long)(await redis.ExecuteAsync("EVAL", db => db.ScriptEvaluateAsync("""
                local g = redis.call('GET', KEYS[1]) or '0'
                local views = {}
                for _, key in ipairs(redis.call('KEYS', ARGV[1] .. g .. ':*')) do
                    if string.sub(key, -5) ~= ':lock' then table.insert(views, key) end
                end
                if #views ~= 1 then return -3 end
                return redis.call('PTTL', views[1])
                """, [scope + ":gen"], [scope + ":v"])))!;
            if (left >= 0)
            {
                return left;
            }
        }

        Assert.Fail($"{path} left no single view in its family's current generation");
        return 0;
    }

    [Fact]
    public async Task Given_the_standby_holding_its_replay_Then_a_panel_cleared_by_an_event_is_built_from_the_primary_while_the_standby_still_shows_the_old_state()
    {
        var grower = await host.NewGrowerAsync();
        var farm = await FarmOfAsync(grower);
        var (device, _) = await grower.DeviceAsync();
        using var reads = new HostCounter(host.Factory.Services, "insights.reads", ("source", "replica"));
        using var behind = new HostCounter(host.Factory.Services, "insights.reads", ("source", "primary_behind"));
        await FarmStatusAsync(grower, farm, f => f.GetProperty("devices").GetProperty("active").GetInt32() == 1, "the device is counted");
        // Right after the events the standby may still be behind, and the panel built from the
        // primary: once it has caught up, a rebuilt panel comes from the standby.
        await EventuallyAsync(async () =>
        {
            // (Clearing records the primary's position; the standby gets a moment to replay past it.)
            await host.Factory.Services.GetRequiredService<ReadModels>().ClearAsync(grower.TenantId, [ViewFamily.Fleet], CancellationToken.None);
            await Task.Delay(250);
            using var read = await grower.Fleet.GetAsync(FleetStatus);
            return read.StatusCode == HttpStatusCode.OK && reads.Total >= 1;
        }, "panels are built from the standby");

        await using var standby = new NpgsqlConnection(TestServers.PostgresReplicaOwnerConnectionString);
        await standby.OpenAsync();
        await Execute(standby, "SET app.scope = 'platform'");
        await EventuallyAsync(async () => await Scalar(standby, $"SELECT status FROM insights.devices WHERE device_id = '{device}'") == "ACTIVE", "the standby shows the device");
        await Execute(standby, "SELECT pg_wal_replay_pause()");
        try
        {
            using (var fault = await grower.Fleet.VerbAsync(device, "report-fault", new { code = "power_loss", note = "Mains off" }))
            {
                Assert.Equal(HttpStatusCode.OK, fault.StatusCode);
            }

            await FarmStatusAsync(grower, farm, f => f.GetProperty("devices").GetProperty("fault").GetInt32() == 1, "the fault is counted though the standby is held");
            Assert.True(behind.Total >= 1, "the panel cleared by the fault was built from the primary");
            Assert.Equal("ACTIVE", await Scalar(standby, $"SELECT status FROM insights.devices WHERE device_id = '{device}'"));
        }
        finally
        {
            await Execute(standby, "SELECT pg_wal_replay_resume()");
        }

        await EventuallyAsync(async () => await Scalar(standby, $"SELECT status FROM insights.devices WHERE device_id = '{device}'") == "FAULT",
            "the standby caught up once it replays again");
    }

    [Fact]
    public async Task Given_redis_stopped_Then_the_panels_are_built_from_postgresql_for_every_read_and_answered()
    {
        using var redis = new DisposableRedis();
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis.ConnectionString });
        var grower = await host.NewGrowerAsync();
        var farm = await FarmOfAsync(grower);
        await FarmStatusAsync(grower, farm, _ => true, "the farm is in the read model");
        // The same signed-in grower, on an instance whose Redis is about to stop.
        var fleet = new FleetApi(factory.CreateClient(), grower.OwnerToken);
        using var fallbacks = new HostCounter(factory.Services, "insights.reads", ("source", "primary_fallback"));
        using var uncached = new HostCounter(factory.Services, "cache.rebuilds", ("outcome", "uncached"));

        redis.Stop();
        var answers = new List<JsonElement>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await fleet.GetAsync(FleetStatus);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            answers.Add(await FleetApi.Json(response));
        }

        Assert.All(answers, a => Assert.Contains(a.GetProperty("farms").EnumerateArray(), f => f.GetProperty("farm_id").GetGuid() == farm));
        Assert.Equal(3, fallbacks.Total);
        Assert.Equal(3, uncached.Total);
        redis.Start();
    }

    [Fact]
    public async Task Given_the_replica_unreachable_Then_the_panel_is_built_from_the_primary_and_answered()
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:PostgresReplica"] = new NpgsqlConnectionStringBuilder(TestServers.PostgresReplicaConnectionString) { Port = 1, Timeout = 1 }.ConnectionString,
        });
        var grower = await host.NewGrowerAsync();
        var farm = await FarmOfAsync(grower);
        await FarmStatusAsync(grower, farm, _ => true, "the farm is in the read model");
        using var fallbacks = new HostCounter(factory.Services, "insights.reads", ("source", "primary_fallback"));
        var api = new FleetApi(factory.CreateClient(), grower.OwnerToken);
        await factory.Services.GetRequiredService<ReadModels>().ClearAsync(grower.TenantId, [ViewFamily.Fleet], CancellationToken.None);

        using var response = await api.GetAsync(FleetStatus);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains((await FleetApi.Json(response)).GetProperty("farms").EnumerateArray(), f => f.GetProperty("farm_id").GetGuid() == farm);
        Assert.Equal(1, fallbacks.Total);
    }

    private static string Iso(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<Guid> FarmOfAsync(Grower grower) =>
        (await FleetApi.Json(await grower.Fleet.GetAsync($"/api/v1/zones/{grower.ZoneId}"))).GetProperty("farm_id").GetGuid();

    /// <summary>Reads the panel until the farm's entry satisfies <paramref name="condition"/> (events reach the read model in the background).</summary>
    private static async Task<(JsonElement Summary, JsonElement Farm)> FarmStatusAsync(Grower grower, Guid farm, Func<JsonElement, bool> condition, string what)
    {
        var summary = await EventuallyJsonAsync(grower, FleetStatus,
            s => s.GetProperty("farms").EnumerateArray().Any(f => f.GetProperty("farm_id").GetGuid() == farm && condition(f)), what);
        return (summary, summary.GetProperty("farms").EnumerateArray().Single(f => f.GetProperty("farm_id").GetGuid() == farm));
    }

    private static async Task<JsonElement> EventuallyJsonAsync(Grower grower, string path, Func<JsonElement, bool> condition, string what)
    {
        JsonElement last = default;
        await EventuallyAsync(async () =>
        {
            using var response = await grower.Fleet.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            last = (await FleetApi.Json(response)).Clone();
            return condition(last);
        }, what);
        return last;
    }

    private static async Task Execute(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<string?> Scalar(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (string?)await command.ExecuteScalarAsync();
    }
}

/// <summary>
/// Tests that hold the standby's replay or need it to catch up within seconds, and tests that start
/// processes with a Redis of their own, run one at a time. A process of every role runs the outbox
/// relay; one with its own Redis would handle Insights' events and clear the dashboards in that
/// Redis, not in the shared one the dashboard tests read. (In-memory hosts serve only, unless a
/// test gives them the workers.)
/// </summary>
[CollectionDefinition(Name)]
public sealed class SerialTests
{
    public const string Name = "serial";
}
