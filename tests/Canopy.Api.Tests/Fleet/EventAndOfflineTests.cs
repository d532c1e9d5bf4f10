using System.Net;
using Canopy.Api.Tests.Identity;
using Canopy.Fleet.Features;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json.Nodes;
using Canopy.Platform.Spec;
using Microsoft.OpenApi;

namespace Canopy.Api.Tests.Fleet;

public sealed class EventAndOfflineTests(FleetHost host) : IClassFixture<FleetHost>
{
    [Fact]
    public async Task Given_an_active_device_silent_too_long_Then_the_sweep_marks_it_offline_once_with_its_event_and_leaves_the_others()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var silent = await DeviceTests.ActiveDeviceAsync(api);
        var recent = await DeviceTests.ActiveDeviceAsync(api);
        var faulty = await DeviceTests.ActiveDeviceAsync(api);
        using (var fault = await api.VerbAsync(faulty, "report-fault", new { code = "power_loss", note = "Unplugged" }))
        {
            Assert.Equal(HttpStatusCode.OK, fault.StatusCode);
        }

        var lastSeen = DateTimeOffset.UtcNow.AddHours(-2);
        await IdentityApi.ExecuteAsOwnerAsync("UPDATE fleet.devices SET activated_at = now() - interval '3 hours', last_seen_at = $2 WHERE id = ANY($1)",
            new[] { silent, faulty }, lastSeen);
        var sweep = host.Factory.Services.GetRequiredService<OfflineDetection>();

        await sweep.SweepAsync(CancellationToken.None);
        await sweep.SweepAsync(CancellationToken.None);

        using var read = await api.GetAsync($"/api/v1/devices/{silent}");
        var device = await FleetApi.Json(read);
        Assert.Equal("OFFLINE", device.GetProperty("status").GetString());
        Assert.Equal("\"3\"", read.Headers.ETag!.ToString());
        Assert.Equal(["report-fault", "move", "decommission", "rotate-credential"], device.GetProperty("allowed_verbs").EnumerateArray().Select(v => v.GetString()));
        var offline = (await DeviceTests.OutboxAsync(silent)).Where(e => e.Type == "device.went_offline").ToList();
        var payload = Assert.Single(offline).Payload;
        Assert.Equal("ACTIVE", payload.GetProperty("previous_status").GetString());
        Assert.Equal(lastSeen.ToUnixTimeSeconds(), payload.GetProperty("last_seen_at").GetDateTimeOffset().ToUnixTimeSeconds());
        Assert.Equal("ACTIVE", await IdentityApi.ScalarAsync<string>("SELECT status FROM fleet.devices WHERE id = $1", recent));
        Assert.Equal("FAULT", await IdentityApi.ScalarAsync<string>("SELECT status FROM fleet.devices WHERE id = $1", faulty));

        // An offline device can still be reported faulty (OFFLINE → FAULT).
        using var reported = await api.VerbAsync(silent, "report-fault", new { code = "connectivity_loss", note = "Gateway down" });
        Assert.Equal(HttpStatusCode.OK, reported.StatusCode);
    }

    [Fact]
    public async Task Given_every_event_the_module_emits_Then_the_spec_documents_it_and_its_payload_has_exactly_the_documented_members()
    {
        var schemas = Schemas();
        var documented = schemas
            .Where(s => s.Value.Extensions?.ContainsKey("x-event-types") == true)
            .SelectMany(s => ((JsonArray)Extension(s.Value, "x-event-types")).Select(t => (Type: t!.GetValue<string>(), Schema: s.Value)))
            .ToDictionary(e => e.Type, e => e.Schema);
        Assert.Equal(FleetEvents.All.Order(), documented.Keys.Where(k => k.Split('.')[0] is "farm" or "zone" or "device").Order());

        var api = (await host.NewOrganisationAsync()).Api;
        var farmId = (await api.NewFarmAsync()).GetProperty("id").GetGuid();
        var zoneId = (await api.NewZoneAsync(farmId)).GetProperty("id").GetGuid();
        var otherZone = (await api.NewZoneAsync(farmId)).GetProperty("id").GetGuid();
        var deviceId = (await api.NewDeviceAsync(zoneId)).GetProperty("id").GetGuid();
        foreach (var (verb, body) in new (string, object?)[] { ("activate", null), ("report-fault", new { code = "other", note = "Odd readings" }), ("move", new { zone_id = otherZone }) })
        {
            using var response = await api.VerbAsync(deviceId, verb, body);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var events = (await DeviceTests.OutboxAsync(farmId)).Concat(await DeviceTests.OutboxAsync(zoneId)).Concat(await DeviceTests.OutboxAsync(deviceId)).ToList();
        Assert.Equal(6, events.Count);
        foreach (var (type, payload) in events)
        {
            var schema = documented[type];
            var properties = schema.Properties!.Keys.ToHashSet();
            var required = schema.Required!;
            var members = payload.EnumerateObject().Select(p => p.Name).ToList();
            Assert.All(members, m => Assert.Contains(m, properties));
            Assert.All(required, r => Assert.True(payload.TryGetProperty(r, out _), $"{type} lacks {r}: {payload}"));
        }

        var version = await IdentityApi.ScalarAsync<int>("SELECT DISTINCT version FROM platform.outbox WHERE aggregate_id = $1", deviceId);
        Assert.Equal(int.Parse(Extension(documented["device.moved"], "x-event-version").ToString(), System.Globalization.CultureInfo.InvariantCulture), version);
    }

    private static IDictionary<string, IOpenApiSchema> Schemas() =>
        OperationCatalog.ReadDocument(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "openapi", "api.yaml"))).Components!.Schemas!;

    private static JsonNode Extension(IOpenApiSchema schema, string name) => ((JsonNodeExtension)schema.Extensions![name]).Node;
}
