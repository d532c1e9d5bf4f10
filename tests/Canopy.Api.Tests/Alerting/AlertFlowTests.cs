using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Canopy.Alerting.Features;
using Canopy.Api.Tests.Fleet;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Api.Tests.Telemetry;
using Canopy.Platform.Messaging;
using Microsoft.Extensions.DependencyInjection;
using static Canopy.Api.Tests.Telemetry.TelemetryApi;

namespace Canopy.Api.Tests.Alerting;

/// <summary>
/// Rules evaluated from the feed of stored readings, on a host that runs the evaluation worker
/// and the outbox relay as a deployment's single process does.
/// </summary>
public sealed class AlertFlowTests(TelemetryHost host) : IClassFixture<TelemetryHost>
{
    private const string Alerts = "/api/v1/alerts";

    [Fact]
    public async Task Given_a_device_registered_activated_and_reporting_past_a_rule_then_back_and_a_fault_Then_each_alert_opens_and_resolves_with_its_events_in_order()
    {
        var grower = await host.NewGrowerAsync();
        var t = WholeSecond(DateTimeOffset.UtcNow.AddMinutes(-3));

        // Register, activate: the device is ACTIVE and can trade its credential for a token.
        var registered = await FleetApi.CreatedAsync(await grower.Fleet.RegisterAsync(grower.ZoneId, model: "milesight-em500-co2"));
        var device = registered.GetProperty("device").GetProperty("id").GetGuid();
        Assert.Equal("PROVISIONED", registered.GetProperty("device").GetProperty("status").GetString());
        using (var activated = await grower.Fleet.VerbAsync(device, "activate"))
        {
            Assert.Equal(HttpStatusCode.OK, activated.StatusCode);
            Assert.Equal("ACTIVE", (await FleetApi.Json(activated)).GetProperty("status").GetString());
        }

        Assert.Equal(["device.registered", "device.activated"], await DeviceEventsAsync(device));
        var sender = new Sender(device, await grower.Telemetry.TokenAsync(device, registered.GetProperty("credential").GetProperty("secret").GetString()!), grower.Telemetry);
        using var created = await grower.Fleet.PostAsync("/api/v1/alert-rules", new
        {
            name = "Too hot for seedlings", metric = "temperature_c", @operator = "gt", threshold = 30, for_seconds = 60,
            scope = new { kind = "zone", id = grower.ZoneId }, severity = "warning",
        }, idempotencyKey: FleetApi.Key());
        var rule = (await FleetApi.CreatedAsync(created)).GetProperty("id").GetGuid();

        // Readings within the rule: evaluated, no alert.
        Assert.Equal((2, 0), await CountsAsync(await sender.SendAsync(Reading("temperature_c", 22, t), Reading("temperature_c", 23, t.AddSeconds(10)))));
        await EvaluatedAsync(rule, device, t.AddSeconds(10));
        Assert.Empty(await AlertsOfAsync(grower, device));
        Assert.Empty(await AlertEventsOfDeviceAsync(device));

        // Past the threshold for 60 s (three readings over a minute): one OPEN alert, within 10 s of the batch.
        var arrival = Stopwatch.StartNew();
        Assert.Equal((3, 0), await CountsAsync(await sender.SendAsync(
            Reading("temperature_c", 31, t.AddSeconds(20)), Reading("temperature_c", 32, t.AddSeconds(50)), Reading("temperature_c", 33, t.AddSeconds(80)))));
        await EvaluatedAsync(rule, device, t.AddSeconds(80));
        Assert.True(arrival.Elapsed < TimeSpan.FromSeconds(10), $"the alert was raised {arrival.Elapsed} after the batch arrived (at most 10 s)");
        var opened = Assert.Single(await AlertsOfAsync(grower, device));
        var id = opened.GetProperty("id").GetGuid();
        Assert.Equal(("threshold", "OPEN", "warning", "temperature_c"), (opened.GetProperty("kind").GetString(), opened.GetProperty("status").GetString(),
            opened.GetProperty("severity").GetString(), opened.GetProperty("metric").GetString()));
        Assert.Equal((rule, grower.ZoneId), (opened.GetProperty("rule_id").GetGuid(), opened.GetProperty("zone_id").GetGuid()));
        Assert.Equal($"Device {registered.GetProperty("device").GetProperty("serial_number").GetString()}: temperature_c at 33 is above 30 for at least 1 min (rule \"Too hot for seedlings\").",
            opened.GetProperty("summary").GetString());
        Assert.Equal(["alert.raised"], (await DeviceTests.OutboxAsync(id)).Select(e => e.Type));

        // Still too hot: the same alert is extended, not raised again.
        Assert.Equal((1, 0), await CountsAsync(await sender.SendAsync(Reading("temperature_c", 34.5, t.AddSeconds(90)))));
        await EvaluatedAsync(rule, device, t.AddSeconds(90));
        Assert.Equal(34.5, await IdentityApi.ScalarAsync<double>("SELECT last_value FROM alerting.alerts WHERE id = $1", id));
        Assert.Single(await AlertsOfAsync(grower, device));

        // Acknowledged by a member.
        using (var acknowledged = await grower.Fleet.PostAsync($"{Alerts}/{id}/acknowledge", ifMatch: "\"1\""))
        {
            Assert.Equal(HttpStatusCode.OK, acknowledged.StatusCode);
            Assert.Equal(("ACKNOWLEDGED", 2), ((await FleetApi.Json(acknowledged)).GetProperty("status").GetString(), (await FleetApi.Json(acknowledged)).GetProperty("version").GetInt32()));
        }

        Assert.Equal(["alert.raised", "alert.acknowledged"], (await DeviceTests.OutboxAsync(id)).Select(e => e.Type));

        // Back to normal, 59 s later still open; at 60 s it resolves by itself.
        Assert.Equal((2, 0), await CountsAsync(await sender.SendAsync(Reading("temperature_c", 25, t.AddSeconds(100)), Reading("temperature_c", 24, t.AddSeconds(159)))));
        await EvaluatedAsync(rule, device, t.AddSeconds(159));
        Assert.Equal("ACKNOWLEDGED", (await FleetApi.Json(await grower.Fleet.GetAsync($"{Alerts}/{id}"))).GetProperty("status").GetString());
        Assert.Equal((1, 0), await CountsAsync(await sender.SendAsync(Reading("temperature_c", 24, t.AddSeconds(160)))));
        await EvaluatedAsync(rule, device, t.AddSeconds(160));
        var resolved = await FleetApi.Json(await grower.Fleet.GetAsync($"{Alerts}/{id}"));
        Assert.Equal(("RESOLVED", 3), (resolved.GetProperty("status").GetString(), resolved.GetProperty("version").GetInt32()));
        Assert.Empty(resolved.GetProperty("allowed_verbs").EnumerateArray());
        var events = await DeviceTests.OutboxAsync(id);
        Assert.Equal(["alert.raised", "alert.acknowledged", "alert.resolved"], events.Select(e => e.Type));
        Assert.Equal("condition_cleared", events[2].Payload.GetProperty("resolved_by").GetString());

        // A member resolving the alert that just resolved itself is told its state.
        using (var late = await grower.Fleet.PostAsync($"{Alerts}/{id}/resolve", ifMatch: "\"3\""))
        {
            var refusal = await ProblemAssert.IsProblemAsync(late, HttpStatusCode.Conflict, "conflict");
            Assert.Equal("RESOLVED", refusal.GetProperty("current_state").GetString());
        }

        // A fault reported, then cleared: its own alert opens and resolves.
        using (var reported = await grower.Fleet.VerbAsync(device, "report-fault", new { code = "sensor_failure", note = "Probe shorted" }))
        {
            Assert.Equal(HttpStatusCode.OK, reported.StatusCode);
        }

        await EventuallyAsync(async () => (await AlertsOfAsync(grower, device)).Any(a => a.GetProperty("kind").GetString() == "device_fault"), "the fault raised an alert");
        var fault = (await AlertsOfAsync(grower, device)).Single(a => a.GetProperty("kind").GetString() == "device_fault");
        Assert.Equal(("OPEN", "critical"), (fault.GetProperty("status").GetString(), fault.GetProperty("severity").GetString()));
        Assert.Equal(["alert.raised"], (await DeviceTests.OutboxAsync(fault.GetProperty("id").GetGuid())).Select(e => e.Type));
        Assert.Equal(["device.registered", "device.activated", "device.fault_reported"], await DeviceEventsAsync(device));
        using (var cleared = await grower.Fleet.VerbAsync(device, "clear-fault"))
        {
            Assert.Equal(HttpStatusCode.OK, cleared.StatusCode);
        }

        var faultId = fault.GetProperty("id").GetGuid();
        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<string>("SELECT status FROM alerting.alerts WHERE id = $1", faultId) == "RESOLVED", "clearing the fault resolved its alert");
        var faultEvents = await DeviceTests.OutboxAsync(faultId);
        Assert.Equal(["alert.raised", "alert.resolved"], faultEvents.Select(e => e.Type));
        Assert.Equal("fault_cleared", faultEvents[1].Payload.GetProperty("resolved_by").GetString());
        Assert.Equal(["device.registered", "device.activated", "device.fault_reported", "device.fault_cleared"], await DeviceEventsAsync(device));
        Assert.Equal(2L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.alerts WHERE device_id = $1", device));
    }

    [Fact]
    public async Task Given_the_same_breaking_batch_evaluated_by_two_workers_at_once_Then_one_alert_is_raised_once()
    {
        var grower = await host.NewGrowerAsync();
        var (device, _) = await grower.DeviceAsync();
        var rule = await RuleAsync(grower, new { kind = "device", id = device }, "co2_ppm", "gte", 1500, 0);
        var t = WholeSecond(DateTimeOffset.UtcNow.AddMinutes(-1));
        var batch = new FedBatch(grower.TenantId, device, grower.ZoneId, [new("co2_ppm", 1500, t), new("co2_ppm", 1800, t.AddSeconds(5))]);
        var alerts = host.Factory.Services.GetRequiredService<ThresholdAlerts>();

        var transitions = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(() => alerts.EvaluateAsync(batch, CancellationToken.None))));

        Assert.Equal([0, 1], transitions.Order());
        var alert = await IdentityApi.ScalarAsync<Guid>("SELECT id FROM alerting.alerts WHERE rule_id = $1", rule);
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.alerts WHERE rule_id = $1", rule));
        Assert.Equal(["alert.raised"], (await DeviceTests.OutboxAsync(alert)).Select(e => e.Type));
        Assert.Equal(1800, await IdentityApi.ScalarAsync<double>("SELECT last_value FROM alerting.alerts WHERE id = $1", alert));
    }

    [Fact]
    public async Task Given_a_disabled_rule_a_rule_of_another_zone_and_an_outside_target_rule_Then_only_the_target_range_of_the_device_zone_raises()
    {
        var grower = await host.NewGrowerAsync();
        using (var targets = await grower.Fleet.PostAsync($"/api/v1/zones/{grower.ZoneId}/set-targets", new { targets = new { humidity_pct = new { min = 55, max = 80 } } }, ifMatch: "\"1\""))
        {
            Assert.Equal(HttpStatusCode.OK, targets.StatusCode);
        }

        var sender = await grower.SenderAsync();
        var otherZone = (await grower.Fleet.NewZoneAsync()).GetProperty("id").GetGuid();
        await grower.DeviceAsync(zone: otherZone);
        var disabled = await RuleAsync(grower, new { kind = "zone", id = grower.ZoneId }, "humidity_pct", "lt", 60, 0);
        using (var off = await grower.Fleet.PostAsync($"/api/v1/alert-rules/{disabled}/disable", ifMatch: "\"1\""))
        {
            Assert.Equal(HttpStatusCode.OK, off.StatusCode);
        }

        var elsewhere = await RuleAsync(grower, new { kind = "zone", id = otherZone }, "humidity_pct", "lt", 60, 0);
        var target = await RuleAsync(grower, new { kind = "farm", id = await IdentityApi.ScalarAsync<Guid>("SELECT farm_id FROM fleet.zones WHERE id = $1", grower.ZoneId) },
            "humidity_pct", "outside_target", null, 0);
        var t = WholeSecond(DateTimeOffset.UtcNow.AddMinutes(-1));

        Assert.Equal((2, 0), await CountsAsync(await sender.SendAsync(Reading("humidity_pct", 55, t), Reading("humidity_pct", 54.5, t.AddSeconds(1)))));
        await EvaluatedAsync(target, sender.DeviceId, t.AddSeconds(1));

        var alert = Assert.Single(await AlertsOfAsync(grower, sender.DeviceId));
        Assert.Equal(target, alert.GetProperty("rule_id").GetGuid());
        Assert.Contains("humidity_pct at 54.5 is outside the zone's target 55–80", alert.GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.rule_states WHERE rule_id = ANY($1)", new[] { disabled, elsewhere }));
    }

    [Fact]
    public async Task Given_a_rule_with_an_open_alert_When_it_is_disabled_Then_the_alert_resolves_as_rule_disabled_and_later_breaches_raise_nothing()
    {
        var grower = await host.NewGrowerAsync();
        var sender = await grower.SenderAsync();
        var rule = await RuleAsync(grower, new { kind = "zone", id = grower.ZoneId }, "co2_ppm", "gte", 1500, 0);
        // A second rule of the same device tells when a batch has been evaluated after the first is disabled.
        var probe = await RuleAsync(grower, new { kind = "device", id = sender.DeviceId }, "temperature_c", "gt", 80, 0);
        var t = WholeSecond(DateTimeOffset.UtcNow.AddMinutes(-2));

        // One alert raised and cleared by its readings (it must stay as it is), then another raised.
        await sender.SendAsync(Reading("co2_ppm", 1600, t), Reading("co2_ppm", 900, t.AddSeconds(1)), Reading("co2_ppm", 1700, t.AddSeconds(2)));
        await EvaluatedAsync(rule, sender.DeviceId, t.AddSeconds(2));
        var cleared = await IdentityApi.ScalarAsync<Guid>("SELECT id FROM alerting.alerts WHERE rule_id = $1 AND status = 'RESOLVED'", rule);
        var open = await IdentityApi.ScalarAsync<Guid>("SELECT id FROM alerting.alerts WHERE rule_id = $1 AND status = 'OPEN'", rule);

        using (var off = await grower.Fleet.PostAsync($"/api/v1/alert-rules/{rule}/disable", ifMatch: "\"1\""))
        {
            Assert.Equal(HttpStatusCode.OK, off.StatusCode);
        }

        var resolved = Assert.Single(await AlertsOfAsync(grower, sender.DeviceId), a => a.GetProperty("id").GetGuid() == open);
        Assert.Equal("RESOLVED", resolved.GetProperty("status").GetString());
        Assert.Equal(["alert.raised", "alert.resolved"], (await DeviceTests.OutboxAsync(open)).Select(e => e.Type));
        Assert.Equal("rule_disabled", (await DeviceTests.OutboxAsync(open))[^1].Payload.GetProperty("resolved_by").GetString());
        Assert.Equal(("condition_cleared", 2), (await IdentityApi.ScalarAsync<string>("SELECT resolved_by FROM alerting.alerts WHERE id = $1", cleared),
            await IdentityApi.ScalarAsync<int>("SELECT version FROM alerting.alerts WHERE id = $1", cleared)));

        await sender.SendAsync(Reading("co2_ppm", 1800, t.AddSeconds(3)), Reading("temperature_c", 20, t.AddSeconds(3)));
        await EvaluatedAsync(probe, sender.DeviceId, t.AddSeconds(3));
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.alerts WHERE rule_id = $1 AND status <> 'RESOLVED'", rule));
    }

    [Fact]
    public async Task Given_a_rule_disabled_while_a_breaking_batch_of_a_new_device_is_evaluated_Then_no_alert_of_it_stays_open()
    {
        var grower = await host.NewGrowerAsync();
        var alerts = host.Factory.Services.GetRequiredService<ThresholdAlerts>();
        var t = WholeSecond(DateTimeOffset.UtcNow.AddMinutes(-1));
        var rules = new List<Guid>();
        for (var round = 0; round < 4; round++)
        {
            // A device no rule has seen: its pair's state row does not exist yet when both start.
            var (device, _) = await grower.DeviceAsync();
            var rule = await RuleAsync(grower, new { kind = "device", id = device }, "co2_ppm", "gt", 1000, 0);
            rules.Add(rule);
            var batch = new FedBatch(grower.TenantId, device, grower.ZoneId, [new("co2_ppm", 1900, t)]);

            var evaluation = Task.Run(() => alerts.EvaluateAsync(batch, CancellationToken.None));
            var disabling = Task.Run(() => grower.Fleet.PostAsync($"/api/v1/alert-rules/{rule}/disable", ifMatch: "\"1\""));
            await Task.WhenAll(evaluation, disabling);

            using var disabled = await disabling;
            Assert.Equal(HttpStatusCode.OK, disabled.StatusCode);
        }

        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.alerts WHERE rule_id = ANY($1) AND status <> 'RESOLVED'", rules.ToArray()));
        // Whatever was raised was resolved with its event.
        Assert.Equal(
            await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM platform.outbox o JOIN alerting.alerts a ON a.id = o.aggregate_id WHERE a.rule_id = ANY($1) AND o.type = 'alert.raised'", rules.ToArray()),
            await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM platform.outbox o JOIN alerting.alerts a ON a.id = o.aggregate_id WHERE a.rule_id = ANY($1) AND o.type = 'alert.resolved'", rules.ToArray()));
    }

    [Fact]
    public async Task Given_a_device_moved_to_another_zone_Then_alerts_of_its_old_zone_rule_resolve_as_device_moved_and_those_of_rules_still_watching_it_stay()
    {
        var grower = await host.NewGrowerAsync();
        var sender = await grower.SenderAsync();
        var farm = await IdentityApi.ScalarAsync<Guid>("SELECT farm_id FROM fleet.zones WHERE id = $1", grower.ZoneId);
        var zoneRule = await RuleAsync(grower, new { kind = "zone", id = grower.ZoneId }, "co2_ppm", "gt", 1000, 0);
        var farmRule = await RuleAsync(grower, new { kind = "farm", id = farm }, "co2_ppm", "gt", 1100, 0);
        var deviceRule = await RuleAsync(grower, new { kind = "device", id = sender.DeviceId }, "co2_ppm", "gt", 1200, 0);
        var t = WholeSecond(DateTimeOffset.UtcNow.AddMinutes(-1));
        await sender.SendAsync(Reading("co2_ppm", 1900, t));
        await EvaluatedAsync(zoneRule, sender.DeviceId, t);
        await EvaluatedAsync(farmRule, sender.DeviceId, t);
        await EvaluatedAsync(deviceRule, sender.DeviceId, t);
        Assert.Equal(3, (await AlertsOfAsync(grower, sender.DeviceId)).Count(a => a.GetProperty("status").GetString() == "OPEN"));
        var newZone = (await FleetApi.CreatedAsync(await grower.Fleet.CreateZoneAsync(farm))).GetProperty("id").GetGuid();
        var version = await IdentityApi.ScalarAsync<int>("SELECT version FROM fleet.devices WHERE id = $1", sender.DeviceId);

        using (var moved = await grower.Fleet.PostAsync($"/api/v1/devices/{sender.DeviceId}/move", new { zone_id = newZone }, ifMatch: $"\"{version}\""))
        {
            Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        }

        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<string>(
            "SELECT status FROM alerting.alerts WHERE rule_id = $1 AND device_id = $2", zoneRule, sender.DeviceId) == "RESOLVED", "the old zone's alert resolved");
        var resolved = await IdentityApi.ScalarAsync<Guid>("SELECT id FROM alerting.alerts WHERE rule_id = $1", zoneRule);
        Assert.Equal("device_moved", (await DeviceTests.OutboxAsync(resolved))[^1].Payload.GetProperty("resolved_by").GetString());
        Assert.Equal(2L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.alerts WHERE rule_id = ANY($1) AND status = 'OPEN'", new[] { farmRule, deviceRule }));
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.rule_states WHERE rule_id = $1", zoneRule));
        Assert.Equal(2L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.rule_states WHERE device_id = $1", sender.DeviceId));
    }

    internal static DateTimeOffset WholeSecond(DateTimeOffset at) => new(at.Ticks - (at.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    internal static async Task<Guid> RuleAsync(Grower grower, object scope, string metric, string op, double? threshold, int forSeconds)
    {
        using var created = await grower.Fleet.PostAsync("/api/v1/alert-rules", new Dictionary<string, object?>
        {
            ["name"] = FleetApi.Name("Rule"), ["metric"] = metric, ["operator"] = op, ["threshold"] = threshold, ["for_seconds"] = forSeconds,
            ["scope"] = scope, ["severity"] = "critical",
        }, idempotencyKey: FleetApi.Key());
        return (await FleetApi.CreatedAsync(created)).GetProperty("id").GetGuid();
    }

    /// <summary>Waits until the evaluation worker has handled the device's readings up to <paramref name="until"/> for the rule.</summary>
    private static Task EvaluatedAsync(Guid rule, Guid device, DateTimeOffset until) =>
        EventuallyAsync(async () => await IdentityApi.ScalarAsync<bool>(
            "SELECT coalesce(bool_or(evaluated_until >= $3), false) FROM alerting.rule_states WHERE rule_id = $1 AND device_id = $2", rule, device, until), "the readings were evaluated");

    private static async Task<List<JsonElement>> AlertsOfAsync(Grower grower, Guid device)
    {
        using var response = await grower.Fleet.GetAsync(Alerts);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await FleetApi.Json(response)).GetProperty("data").EnumerateArray().Where(a => a.GetProperty("device_id").GetGuid() == device).Select(a => a.Clone()).ToList();
    }

    /// <summary>The alert events about a device, whichever alert they concern.</summary>
    private static async Task<List<string>> AlertEventsOfDeviceAsync(Guid device) =>
        JsonSerializer.Deserialize<List<string>>(await IdentityApi.ScalarAsync<string>(
            "SELECT coalesce(json_agg(type ORDER BY occurred_at, id)::text, '[]') FROM platform.outbox WHERE type LIKE 'alert.%' AND payload->>'device_id' = $1::text", device) ?? "[]")!;

    private static async Task<List<string>> DeviceEventsAsync(Guid device) =>
        (await DeviceTests.OutboxAsync(device)).Select(e => e.Type).Where(type => type.StartsWith("device.", StringComparison.Ordinal)).ToList();
}
