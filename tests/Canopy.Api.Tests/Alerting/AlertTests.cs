using System.Net;
using System.Text.Json;
using Canopy.Alerting.Features;
using Canopy.Fleet.Features;
using Canopy.Api.Tests.Fleet;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Api.Tests.Telemetry;
using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Microsoft.Extensions.DependencyInjection;
using static Canopy.Api.Tests.Telemetry.TelemetryApi;

namespace Canopy.Api.Tests.Alerting;

/// <summary>Alerts raised from Fleet's fault events, on a host that delivers events as a deployment's single process does.</summary>
public sealed class AlertTests(TelemetryHost host) : IClassFixture<TelemetryHost>
{
    private const string Alerts = "/api/v1/alerts";

    [Fact]
    public async Task Given_a_fault_reported_acknowledged_and_cleared_Then_its_alert_opens_is_acknowledged_resolves_by_itself_and_refuses_a_late_acknowledge()
    {
        var grower = await host.NewGrowerAsync();
        var (device, _) = await grower.DeviceAsync();
        using (var reported = await grower.Fleet.VerbAsync(device, "report-fault", new { code = "sensor_failure", note = "Reads zero since the storm" }))
        {
            Assert.Equal(HttpStatusCode.OK, reported.StatusCode);
        }

        var opened = await OpenAlertAsync(grower, device);
        var id = opened.GetProperty("id").GetGuid();
        Assert.Equal(("device_fault", "critical", "OPEN"), (opened.GetProperty("kind").GetString(), opened.GetProperty("severity").GetString(), opened.GetProperty("status").GetString()));
        Assert.Equal(JsonValueKind.Null, opened.GetProperty("rule_id").ValueKind);
        Assert.Contains("sensor_failure (Reads zero since the storm)", opened.GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.Equal(["acknowledge", "resolve"], opened.GetProperty("allowed_verbs").EnumerateArray().Select(v => v.GetString()));

        using var acknowledged = await grower.Fleet.PostAsync($"{Alerts}/{id}/acknowledge", ifMatch: "\"1\"");
        var body = await FleetApi.Json(acknowledged);
        Assert.Equal(HttpStatusCode.OK, acknowledged.StatusCode);
        Assert.Equal(("ACKNOWLEDGED", 2), (body.GetProperty("status").GetString(), body.GetProperty("version").GetInt32()));
        Assert.Equal(["resolve"], body.GetProperty("allowed_verbs").EnumerateArray().Select(v => v.GetString()));
        Assert.NotEqual(JsonValueKind.Null, body.GetProperty("acknowledged_at").ValueKind);

        using (var cleared = await grower.Fleet.VerbAsync(device, "clear-fault"))
        {
            Assert.Equal(HttpStatusCode.OK, cleared.StatusCode);
        }

        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<string>("SELECT status FROM alerting.alerts WHERE id = $1", id) == "RESOLVED", "the cleared fault resolved the alert");
        using var late = await grower.Fleet.PostAsync($"{Alerts}/{id}/acknowledge", ifMatch: "\"3\"");
        var refusal = await ProblemAssert.IsProblemAsync(late, HttpStatusCode.Conflict, "conflict");
        Assert.Equal("RESOLVED", refusal.GetProperty("current_state").GetString());
        Assert.Empty(refusal.GetProperty("allowed_verbs").EnumerateArray());
        var events = await DeviceTests.OutboxAsync(id);
        Assert.Equal(["alert.raised", "alert.acknowledged", "alert.resolved"], events.Select(e => e.Type));
        Assert.Equal("fault_cleared", events[2].Payload.GetProperty("resolved_by").GetString());
    }

    [Fact]
    public async Task Given_a_faulty_device_decommissioned_Then_its_alert_resolves_and_an_acknowledge_with_the_old_etag_is_412_then_409_once_read_again()
    {
        var grower = await host.NewGrowerAsync();
        var (device, _) = await grower.DeviceAsync();
        using (var reported = await grower.Fleet.VerbAsync(device, "report-fault", new { code = "physical_damage", note = "Hit by a trolley" }))
        {
            Assert.Equal(HttpStatusCode.OK, reported.StatusCode);
        }

        var id = (await OpenAlertAsync(grower, device)).GetProperty("id").GetGuid();
        using (var decommissioned = await grower.Fleet.VerbAsync(device, "decommission"))
        {
            Assert.Equal(HttpStatusCode.OK, decommissioned.StatusCode);
        }

        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<string>("SELECT status FROM alerting.alerts WHERE id = $1", id) == "RESOLVED", "the decommissioning resolved the alert");
        using var stale = await grower.Fleet.PostAsync($"{Alerts}/{id}/acknowledge", ifMatch: "\"1\"");
        var etag = await grower.Fleet.ETagAsync($"{Alerts}/{id}");
        using var current = await grower.Fleet.PostAsync($"{Alerts}/{id}/acknowledge", ifMatch: etag);

        await ProblemAssert.IsProblemAsync(stale, HttpStatusCode.PreconditionFailed, "precondition-failed");
        Assert.Equal("\"2\"", etag);
        var refusal = await ProblemAssert.IsProblemAsync(current, HttpStatusCode.Conflict, "conflict");
        Assert.Equal("RESOLVED", refusal.GetProperty("current_state").GetString());
        var events = await DeviceTests.OutboxAsync(id);
        Assert.Equal(["alert.raised", "alert.resolved"], events.Select(e => e.Type));
        Assert.Equal("device_decommissioned", events[1].Payload.GetProperty("resolved_by").GetString());
    }

    [Fact]
    public async Task Given_a_low_battery_resolved_by_hand_and_a_second_fault_Then_the_second_opens_a_new_warning_alert()
    {
        var grower = await host.NewGrowerAsync();
        var (device, _) = await grower.DeviceAsync();
        using (var reported = await grower.Fleet.VerbAsync(device, "report-fault", new { code = "battery_low", note = "3.1 V" }))
        {
            Assert.Equal(HttpStatusCode.OK, reported.StatusCode);
        }

        var first = await OpenAlertAsync(grower, device);
        using var resolved = await grower.Fleet.PostAsync($"{Alerts}/{first.GetProperty("id").GetGuid()}/resolve", ifMatch: "\"1\"");
        using (var cleared = await grower.Fleet.VerbAsync(device, "clear-fault"))
        using (var again = await grower.Fleet.VerbAsync(device, "report-fault", new { code = "calibration_drift", note = "Off by 4 °C" }))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        var second = await OpenAlertAsync(grower, device);

        Assert.Equal(HttpStatusCode.OK, resolved.StatusCode);
        Assert.Equal("warning", first.GetProperty("severity").GetString());
        Assert.Equal("RESOLVED", (await FleetApi.Json(resolved)).GetProperty("status").GetString());
        Assert.NotEqual(first.GetProperty("id").GetGuid(), second.GetProperty("id").GetGuid());
        Assert.Equal("critical", second.GetProperty("severity").GetString());
        Assert.Equal("member", await IdentityApi.ScalarAsync<string>("SELECT resolved_by FROM alerting.alerts WHERE id = $1", first.GetProperty("id").GetGuid()));
    }

    [Fact]
    public async Task Given_the_same_fault_handled_by_two_workers_at_once_Then_one_alert_is_open_and_raised_once()
    {
        var grower = await host.NewGrowerAsync();
        var device = Guid.CreateVersion7();
        var subscriber = host.Factory.Services.GetServices<IEventSubscriber>().OfType<FaultAlerts>().Single();
        var data = host.Factory.Services.GetRequiredService<PostgresDataSources>();
        var payload = JsonSerializer.SerializeToElement(new
        {
            device_id = device, serial_number = "SN-RACE", fault = new { code = "power_loss", note = "Mains off", reported_at = DateTimeOffset.UtcNow },
        });

        await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            await using var tx = await PostgresTransaction.BeginAsync(data.Primary, grower.TenantId, CancellationToken.None);
            var message = new OutboxEvent(Guid.CreateVersion7(), FaultAlerts.FaultReported, 1, grower.TenantId, device, payload, DateTimeOffset.UtcNow, null);
            await subscriber.HandleAsync(message, new MessageContext(tx.Connection, tx.Transaction, 1), CancellationToken.None);
            await tx.CommitAsync(CancellationToken.None);
        })));

        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.alerts WHERE device_id = $1", device));
        var alert = await IdentityApi.ScalarAsync<Guid>("SELECT id FROM alerting.alerts WHERE device_id = $1", device);
        Assert.Equal(["alert.raised"], (await DeviceTests.OutboxAsync(alert)).Select(e => e.Type));
    }

    [Fact]
    public async Task Given_two_devices_of_one_zone_reported_silent_by_two_workers_at_once_Then_one_alert_holds_both_and_is_raised_once()
    {
        var grower = await host.NewGrowerAsync();
        var zone = Guid.CreateVersion7();
        var devices = new[] { Guid.CreateVersion7(), Guid.CreateVersion7() };
        var subscriber = host.Factory.Services.GetServices<IEventSubscriber>().OfType<OfflineAlerts>().Single();
        var data = host.Factory.Services.GetRequiredService<PostgresDataSources>();

        await Task.WhenAll(devices.Select(device => Task.Run(async () =>
        {
            var payload = JsonSerializer.SerializeToElement(new { device_id = device, zone_id = zone, serial_number = $"SN-{device:N}"[..12], last_seen_at = DateTimeOffset.UtcNow.AddHours(-1) });
            await using var tx = await PostgresTransaction.BeginAsync(data.Primary, grower.TenantId, CancellationToken.None);
            var message = new OutboxEvent(Guid.CreateVersion7(), OfflineAlerts.WentOffline, 1, grower.TenantId, device, payload, DateTimeOffset.UtcNow, null);
            await subscriber.HandleAsync(message, new MessageContext(tx.Connection, tx.Transaction, 1), CancellationToken.None);
            await tx.CommitAsync(CancellationToken.None);
        })));

        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.alerts WHERE zone_id = $1", zone));
        var alert = await IdentityApi.ScalarAsync<Guid>("SELECT id FROM alerting.alerts WHERE zone_id = $1", zone);
        Assert.Equal(2, await IdentityApi.ScalarAsync<int>("SELECT cardinality(offline_devices) FROM alerting.alerts WHERE id = $1", alert));
        Assert.Equal("critical", await IdentityApi.ScalarAsync<string>("SELECT severity FROM alerting.alerts WHERE id = $1", alert));
        Assert.Equal(["alert.raised"], (await DeviceTests.OutboxAsync(alert)).Select(e => e.Type));
    }

    [Fact]
    public async Task Given_two_acknowledges_with_the_same_if_match_at_once_and_another_organisation_Then_one_applies_one_is_412_and_the_other_organisation_finds_nothing()
    {
        var grower = await host.NewGrowerAsync();
        var other = await host.NewGrowerAsync();
        var (device, _) = await grower.DeviceAsync();
        using (var reported = await grower.Fleet.VerbAsync(device, "report-fault", new { code = "water_ingress", note = "Condensation inside" }))
        {
            Assert.Equal(HttpStatusCode.OK, reported.StatusCode);
        }

        var id = (await OpenAlertAsync(grower, device)).GetProperty("id").GetGuid();

        var responses = await Task.WhenAll(
            grower.Fleet.PostAsync($"{Alerts}/{id}/acknowledge", ifMatch: "\"1\""), grower.Fleet.PostAsync($"{Alerts}/{id}/acknowledge", ifMatch: "\"1\""));
        using var foreignRead = await other.Fleet.GetAsync($"{Alerts}/{id}");
        using var foreignResolve = await other.Fleet.PostAsync($"{Alerts}/{id}/resolve", ifMatch: "\"2\"");
        using var foreignList = await other.Fleet.GetAsync(Alerts);

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.PreconditionFailed], responses.Select(r => r.StatusCode).Order());
        foreach (var response in responses)
        {
            response.Dispose();
        }

        await ProblemAssert.IsProblemAsync(foreignRead, HttpStatusCode.NotFound, "not-found");
        await ProblemAssert.IsProblemAsync(foreignResolve, HttpStatusCode.NotFound, "not-found");
        Assert.Empty((await FleetApi.Json(foreignList)).GetProperty("data").EnumerateArray());
        Assert.Equal(["alert.raised", "alert.acknowledged"], (await DeviceTests.OutboxAsync(id)).Select(e => e.Type));
    }

    [Fact]
    public async Task Given_two_devices_of_a_zone_going_silent_Then_one_zone_alert_counts_them_and_resolves_when_the_last_reports_again()
    {
        var grower = await host.NewGrowerAsync();
        var first = await grower.SenderAsync();
        var second = await grower.SenderAsync();
        var elsewhere = await grower.SenderAsync(zone: (await grower.Fleet.NewZoneAsync()).GetProperty("id").GetGuid());
        await IdentityApi.ExecuteAsOwnerAsync("UPDATE fleet.devices SET activated_at = now() - interval '3 hours', last_seen_at = now() - interval '2 hours' WHERE id = ANY($1)",
            new[] { first.DeviceId, second.DeviceId, elsewhere.DeviceId });
        await host.Factory.Services.GetRequiredService<OfflineDetection>().SweepAsync(CancellationToken.None);

        var alert = await OpenAlertAsync(grower, first.DeviceId, second.DeviceId);
        var id = alert.GetProperty("id").GetGuid();
        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<int>("SELECT cardinality(offline_devices) FROM alerting.alerts WHERE id = $1", id) == 2,
            "the second silent device joined the zone's alert");
        var joined = await FleetApi.Json(await grower.Fleet.GetAsync($"{Alerts}/{id}"));
        Assert.Equal(("offline", "OPEN", 2, "critical"), (joined.GetProperty("kind").GetString(), joined.GetProperty("status").GetString(),
            joined.GetProperty("offline_devices").GetInt32(), joined.GetProperty("severity").GetString()));
        Assert.Equal(grower.ZoneId, joined.GetProperty("zone_id").GetGuid());
        Assert.Contains("stopped reporting", joined.GetProperty("summary").GetString(), StringComparison.Ordinal);
        var otherZone = await IdentityApi.ScalarAsync<Guid>("SELECT zone_id FROM fleet.devices WHERE id = $1", elsewhere.DeviceId);
        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.alerts WHERE kind = 'offline' AND zone_id = $1", otherZone) == 1,
            "the device of the other zone raised that zone's own alert");
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.alerts WHERE kind = 'offline' AND zone_id = $1", grower.ZoneId));

        await CountsAsync(await first.SendAsync(Reading("temperature_c", 21, DateTimeOffset.UtcNow.AddSeconds(-5))));
        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<int>("SELECT cardinality(offline_devices) FROM alerting.alerts WHERE id = $1", id) == 1,
            "the device that reported again left the alert");
        Assert.Equal("OPEN", await IdentityApi.ScalarAsync<string>("SELECT status FROM alerting.alerts WHERE id = $1", id));
        await CountsAsync(await second.SendAsync(Reading("temperature_c", 22, DateTimeOffset.UtcNow.AddSeconds(-5))));
        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<string>("SELECT status FROM alerting.alerts WHERE id = $1", id) == "RESOLVED",
            "the last device back resolved the zone's alert");

        var events = await DeviceTests.OutboxAsync(id);
        Assert.Equal(["alert.raised", "alert.resolved"], events.Select(e => e.Type));
        Assert.Equal("devices_online", events[1].Payload.GetProperty("resolved_by").GetString());
    }

    /// <summary>The device's open alert, once Fleet's event reached Alerting, as listAlerts shows it.</summary>
    private static async Task<JsonElement> OpenAlertAsync(Grower grower, params Guid[] devices)
    {
        JsonElement? found = null;
        await EventuallyAsync(async () =>
        {
            using var response = await grower.Fleet.GetAsync($"{Alerts}?status=OPEN");
            var page = await FleetApi.Json(response);
            found = page.GetProperty("data").EnumerateArray().Where(a => devices.Contains(a.GetProperty("device_id").GetGuid())).Select(a => (JsonElement?)a.Clone()).FirstOrDefault();
            return found is not null;
        }, "the fault raised an alert");
        return found!.Value;
    }
}
