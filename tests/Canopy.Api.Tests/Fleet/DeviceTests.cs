using System.Net;
using System.Text.Json;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Fleet;

public sealed class DeviceTests(FleetHost host) : IClassFixture<FleetHost>
{
    [Fact]
    public async Task Given_a_device_registered_Then_it_is_provisioned_its_credential_is_shown_once_and_only_its_hash_is_stored()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var zone = await api.NewZoneAsync();

        using var response = await api.RegisterAsync(zone.GetProperty("id").GetGuid(), "SCD41-00A1F3");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await FleetApi.Json(response);
        var device = body.GetProperty("device");
        var id = device.GetProperty("id").GetGuid();
        Assert.Equal($"/api/v1/devices/{id}", response.Headers.Location!.OriginalString);
        Assert.Equal("\"1\"", response.Headers.ETag!.ToString());
        Assert.Equal("PROVISIONED", device.GetProperty("status").GetString());
        Assert.Equal(["activate", "move", "decommission", "rotate-credential"], device.GetProperty("allowed_verbs").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(["co2_ppm", "temperature_c", "humidity_pct"], device.GetProperty("metrics").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(zone.GetProperty("farm_id").GetGuid(), device.GetProperty("farm_id").GetGuid());
        var secret = body.GetProperty("credential").GetProperty("secret").GetString()!;
        Assert.StartsWith("cdc_", secret, StringComparison.Ordinal);
        Assert.True(response.Headers.CacheControl!.NoStore);
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret));
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM fleet.device_credentials WHERE device_id = $1 AND secret_hash = $2 AND revoked_at IS NULL", id, hash));
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>(
            "SELECT count(*) FROM platform.outbox WHERE aggregate_id = $1 AND payload::text LIKE '%' || $2 || '%'", id, secret));
        using var read = await api.GetAsync($"/api/v1/devices/{id}");
        Assert.DoesNotContain(secret, await read.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_the_whole_life_of_a_device_Then_each_verb_moves_the_state_changes_the_etag_and_emits_its_event_in_order()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var zone = await api.NewZoneAsync();
        var id = (await api.NewDeviceAsync(zone.GetProperty("id").GetGuid())).GetProperty("id").GetGuid();
        var etags = new List<string> { await api.ETagAsync($"/api/v1/devices/{id}") };

        async Task<JsonElement> Step(string verb, object? body, string expectedStatus)
        {
            using var response = await api.VerbAsync(id, verb, body, etags[^1]);
            var raw = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{verb}: {(int)response.StatusCode} {raw}");
            var device = JsonDocument.Parse(raw).RootElement.Clone();
            Assert.Equal(expectedStatus, device.GetProperty("status").GetString());
            Assert.Equal(response.Headers.ETag!.ToString(), $"\"{device.GetProperty("version").GetInt32()}\"");
            Assert.DoesNotContain(response.Headers.ETag!.ToString(), etags);
            etags.Add(response.Headers.ETag!.ToString());
            return device;
        }

        var active = await Step("activate", null, "ACTIVE");
        Assert.True(active.TryGetProperty("activated_at", out var activatedAt) && activatedAt.ValueKind == JsonValueKind.String);
        var fault = await Step("report-fault", new { code = "calibration_drift", note = "CO₂ reads 300 ppm high." }, "FAULT");
        Assert.Equal("calibration_drift", fault.GetProperty("fault").GetProperty("code").GetString());
        var cleared = await Step("clear-fault", null, "ACTIVE");
        Assert.Equal(JsonValueKind.Null, cleared.GetProperty("fault").ValueKind);
        var gone = await Step("decommission", null, "DECOMMISSIONED");
        Assert.Empty(gone.GetProperty("allowed_verbs").EnumerateArray());

        var events = await OutboxAsync(id);
        Assert.Equal(["device.registered", "device.activated", "device.fault_reported", "device.fault_cleared", "device.decommissioned"], events.Select(e => e.Type));
        Assert.Equal([1, 2, 3, 4, 5], events.Select(e => e.Payload.GetProperty("version").GetInt32()));
        Assert.Equal([null, "PROVISIONED", "ACTIVE", "FAULT", "ACTIVE"], events.Select(e => e.Payload.GetProperty("previous_status").GetString()));
        Assert.Equal("CO₂ reads 300 ppm high.", events[2].Payload.GetProperty("fault").GetProperty("note").GetString());
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM fleet.device_credentials WHERE device_id = $1 AND revoked_at IS NULL", id));
    }

    [Fact]
    public async Task Given_two_fault_reports_with_the_same_if_match_at_once_Then_one_is_applied_and_the_other_gets_412()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var id = await ActiveDeviceAsync(api);
        var etag = await api.ETagAsync($"/api/v1/devices/{id}");

        var responses = await Task.WhenAll(
            api.VerbAsync(id, "report-fault", new { code = "battery_low", note = "3.1 V" }, etag),
            api.VerbAsync(id, "report-fault", new { code = "sensor_failure", note = "Reads zero" }, etag));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.PreconditionFailed], responses.Select(r => r.StatusCode).Order());
        await ProblemAssert.IsProblemAsync(responses.Single(r => r.StatusCode != HttpStatusCode.OK), HttpStatusCode.PreconditionFailed, "precondition-failed");
        Assert.Equal(1, (await OutboxAsync(id)).Count(e => e.Type == "device.fault_reported"));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Given_two_registrations_of_the_same_serial_at_once_Then_one_201_and_one_409_and_one_row()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var zoneId = (await api.NewZoneAsync()).GetProperty("id").GetGuid();
        var serial = FleetApi.Serial();

        var responses = await Task.WhenAll(api.RegisterAsync(zoneId, serial), api.RegisterAsync(zoneId, serial));

        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Conflict], responses.Select(r => r.StatusCode).Order());
        var problem = await ProblemAssert.IsProblemAsync(responses.Single(r => r.StatusCode == HttpStatusCode.Conflict), HttpStatusCode.Conflict, "conflict");
        Assert.Contains(("#/serial_number", (string?)null, (string?)null), ProblemAssert.Errors(problem));
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM fleet.devices WHERE serial_number = $1", serial));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Given_a_decommissioned_device_Then_every_verb_is_409_naming_the_state_and_no_verb_and_its_serial_can_be_registered_again()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var zoneId = (await api.NewZoneAsync()).GetProperty("id").GetGuid();
        var otherZone = (await api.NewZoneAsync()).GetProperty("id").GetGuid();
        var serial = FleetApi.Serial();
        var id = (await api.NewDeviceAsync(zoneId, serial)).GetProperty("id").GetGuid();
        using (var decommissioned = await api.VerbAsync(id, "decommission"))
        {
            Assert.Equal(HttpStatusCode.OK, decommissioned.StatusCode);
        }

        (string Verb, object? Body)[] verbs =
        [
            ("activate", null), ("report-fault", new { code = "other", note = "x" }), ("clear-fault", null),
            ("move", new { zone_id = otherZone }), ("decommission", null), ("rotate-credential", null),
        ];
        foreach (var (verb, body) in verbs)
        {
            using var response = await api.VerbAsync(id, verb, body);
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Conflict, "conflict");
            Assert.Equal("DECOMMISSIONED", problem.GetProperty("current_state").GetString());
            Assert.Empty(problem.GetProperty("allowed_verbs").EnumerateArray());
        }

        Assert.Equal(2L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM platform.outbox WHERE aggregate_id = $1", id));
        await FleetApi.CreatedAsync(await api.RegisterAsync(zoneId, serial));
    }

    [Fact]
    public async Task Given_a_verb_its_state_does_not_allow_Then_409_names_the_state_and_the_allowed_verbs_and_nothing_changes()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var id = (await api.NewDeviceAsync((await api.NewZoneAsync()).GetProperty("id").GetGuid())).GetProperty("id").GetGuid();

        using var response = await api.VerbAsync(id, "report-fault", new { code = "other", note = "Not yet installed" });

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Conflict, "conflict");
        Assert.Equal("PROVISIONED", problem.GetProperty("current_state").GetString());
        Assert.Equal(["activate", "move", "decommission", "rotate-credential"], problem.GetProperty("allowed_verbs").EnumerateArray().Select(v => v.GetString()));
        Assert.Contains("activate", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("\"1\"", await api.ETagAsync($"/api/v1/devices/{id}"));
    }

    [Fact]
    public async Task Given_a_verb_without_if_match_or_with_a_stale_one_Then_428_or_412_and_nothing_changes()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var id = (await api.NewDeviceAsync((await api.NewZoneAsync()).GetProperty("id").GetGuid())).GetProperty("id").GetGuid();

        using var missing = await api.PostAsync($"/api/v1/devices/{id}/activate");
        using var stale = await api.PostAsync($"/api/v1/devices/{id}/activate", ifMatch: "\"7\"");
        using var weak = await api.PostAsync($"/api/v1/devices/{id}/activate", ifMatch: "W/\"1\"");

        var required = await ProblemAssert.IsProblemAsync(missing, HttpStatusCode.PreconditionRequired, "precondition-required");
        Assert.Contains(((string?)null, "If-Match", "header"), ProblemAssert.Errors(required));
        await ProblemAssert.IsProblemAsync(stale, HttpStatusCode.PreconditionFailed, "precondition-failed");
        await ProblemAssert.IsProblemAsync(weak, HttpStatusCode.PreconditionFailed, "precondition-failed");
        using var read = await api.GetAsync($"/api/v1/devices/{id}");
        Assert.Equal("PROVISIONED", (await FleetApi.Json(read)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Given_a_device_read_with_its_etag_in_if_none_match_Then_304_without_a_body()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var id = (await api.NewDeviceAsync((await api.NewZoneAsync()).GetProperty("id").GetGuid())).GetProperty("id").GetGuid();

        using var notModified = await api.GetAsync($"/api/v1/devices/{id}", ifNoneMatch: "\"1\"");
        using var changed = await api.GetAsync($"/api/v1/devices/{id}", ifNoneMatch: "\"0\"");

        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal("\"1\"", notModified.Headers.ETag!.ToString());
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
    }

    [Fact]
    public async Task Given_a_move_Then_the_device_takes_its_new_zones_farm_and_a_zone_of_another_organisation_is_404()
    {
        var org = await host.NewOrganisationAsync();
        var other = await host.NewOrganisationAsync();
        var api = org.Api;
        var id = await ActiveDeviceAsync(api);
        var farm2 = (await api.NewFarmAsync()).GetProperty("id").GetGuid();
        var zone2 = (await api.NewZoneAsync(farm2)).GetProperty("id").GetGuid();
        var foreignZone = (await other.Api.NewZoneAsync()).GetProperty("id").GetGuid();
        var etag = await api.ETagAsync($"/api/v1/devices/{id}");

        using var foreign = await api.VerbAsync(id, "move", new { zone_id = foreignZone }, etag);
        using var moved = await api.VerbAsync(id, "move", new { zone_id = zone2 }, etag);
        using var again = await api.VerbAsync(id, "move", new { zone_id = zone2 });

        await ProblemAssert.IsProblemAsync(foreign, HttpStatusCode.NotFound, "not-found");
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        var device = await FleetApi.Json(moved);
        Assert.Equal(zone2, device.GetProperty("zone_id").GetGuid());
        Assert.Equal(farm2, device.GetProperty("farm_id").GetGuid());
        Assert.Equal("ACTIVE", device.GetProperty("status").GetString());
        await ProblemAssert.IsProblemAsync(again, HttpStatusCode.Conflict, "conflict");
        var movedEvent = (await OutboxAsync(id)).Single(e => e.Type == "device.moved").Payload;
        Assert.Equal(farm2, movedEvent.GetProperty("farm_id").GetGuid());
        Assert.NotEqual(farm2, movedEvent.GetProperty("from_farm_id").GetGuid());
    }

    [Fact]
    public async Task Given_a_rotation_Then_the_old_credential_is_revoked_and_the_new_one_is_the_only_live_one()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var zoneId = (await api.NewZoneAsync()).GetProperty("id").GetGuid();
        var registered = await FleetApi.CreatedAsync(await api.RegisterAsync(zoneId));
        var id = registered.GetProperty("device").GetProperty("id").GetGuid();
        var first = registered.GetProperty("credential").GetProperty("secret").GetString()!;

        using var rotated = await api.VerbAsync(id, "rotate-credential");

        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        var body = await FleetApi.Json(rotated);
        var second = body.GetProperty("credential").GetProperty("secret").GetString()!;
        Assert.NotEqual(first, second);
        Assert.Equal("\"2\"", rotated.Headers.ETag!.ToString());
        Assert.Equal("PROVISIONED", body.GetProperty("device").GetProperty("status").GetString());
        Assert.Equal(second, await IdentityApi.ScalarAsync<string>("SELECT $2::text FROM fleet.device_credentials WHERE device_id = $1 AND revoked_at IS NULL AND secret_hash = sha256(convert_to($2, 'UTF8'))", id, second));
        Assert.NotNull(await IdentityApi.ScalarAsync<DateTime?>("SELECT revoked_at FROM fleet.device_credentials WHERE secret_hash = sha256(convert_to($1, 'UTF8'))", first));
    }

    [Fact]
    public async Task Given_a_critical_verb_without_an_idempotency_key_Then_400_and_with_one_a_retry_replays_the_first_answer()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var id = (await api.NewDeviceAsync((await api.NewZoneAsync()).GetProperty("id").GetGuid())).GetProperty("id").GetGuid();
        var key = FleetApi.Key();

        using var keyless = await api.PostAsync($"/api/v1/devices/{id}/rotate-credential", ifMatch: "\"1\"");
        using var first = await api.PostAsync($"/api/v1/devices/{id}/rotate-credential", ifMatch: "\"1\"", idempotencyKey: key);
        using var retry = await api.PostAsync($"/api/v1/devices/{id}/rotate-credential", ifMatch: "\"1\"", idempotencyKey: key);

        await ProblemAssert.IsProblemAsync(keyless, HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM fleet.device_credentials WHERE device_id = $1 AND revoked_at IS NOT NULL", id));
    }

    [Fact]
    public async Task Given_bad_registrations_Then_each_is_a_problem_naming_the_member_and_nothing_is_stored()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var zoneId = (await api.NewZoneAsync()).GetProperty("id").GetGuid();
        var serial = FleetApi.Serial();

        using var unknownModel = await api.RegisterAsync(zoneId, serial, model: "acme-9000");
        using var foreignMetric = await api.RegisterAsync(zoneId, serial, model: "apogee-sq-520", metrics: ["light_ppfd", "co2_ppm"]);
        using var unknownZone = await api.RegisterAsync(Guid.NewGuid(), serial);
        using var badSerial = await api.RegisterAsync(zoneId, "no spaces allowed");

        Assert.Contains(("#/model", (string?)null, (string?)null), ProblemAssert.Errors(await ProblemAssert.IsProblemAsync(unknownModel, HttpStatusCode.UnprocessableEntity, "validation-failed")));
        var metric = await ProblemAssert.IsProblemAsync(foreignMetric, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Contains(("#/metrics", (string?)null, (string?)null), ProblemAssert.Errors(metric));
        Assert.Contains("co2_ppm", metric.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await ProblemAssert.IsProblemAsync(unknownZone, HttpStatusCode.NotFound, "not-found");
        Assert.Contains(("#/serial_number", (string?)null, (string?)null), ProblemAssert.Errors(await ProblemAssert.IsProblemAsync(badSerial, HttpStatusCode.UnprocessableEntity, "validation-failed")));
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM fleet.devices WHERE serial_number = $1", serial));
    }

    [Fact]
    public async Task Given_the_roles_Then_viewers_read_operators_run_verbs_and_only_admins_register_decommission_and_rotate()
    {
        var org = await host.NewOrganisationAsync();
        var viewer = org.Api.As(await host.MemberAsync(org, "viewer"));
        var operatorApi = org.Api.As(await host.MemberAsync(org, "operator"));
        var admin = org.Api.As(await host.MemberAsync(org, "admin"));
        var zoneId = (await admin.NewZoneAsync()).GetProperty("id").GetGuid();
        var id = (await admin.NewDeviceAsync(zoneId)).GetProperty("id").GetGuid();

        using var viewerReads = await viewer.GetAsync($"/api/v1/devices/{id}");
        using var viewerActivates = await viewer.VerbAsync(id, "activate");
        using var operatorRegisters = await operatorApi.RegisterAsync(zoneId);
        using var operatorActivates = await operatorApi.VerbAsync(id, "activate");
        using var operatorDecommissions = await operatorApi.VerbAsync(id, "decommission");
        using var operatorRotates = await operatorApi.VerbAsync(id, "rotate-credential");
        using var adminDecommissions = await admin.VerbAsync(id, "decommission");

        Assert.Equal(HttpStatusCode.OK, viewerReads.StatusCode);
        await ProblemAssert.IsProblemAsync(viewerActivates, HttpStatusCode.Forbidden, "forbidden");
        await ProblemAssert.IsProblemAsync(operatorRegisters, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(HttpStatusCode.OK, operatorActivates.StatusCode);
        await ProblemAssert.IsProblemAsync(operatorDecommissions, HttpStatusCode.Forbidden, "forbidden");
        await ProblemAssert.IsProblemAsync(operatorRotates, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(HttpStatusCode.OK, adminDecommissions.StatusCode);
    }

    internal static async Task<Guid> ActiveDeviceAsync(FleetApi api)
    {
        var id = (await api.NewDeviceAsync((await api.NewZoneAsync()).GetProperty("id").GetGuid())).GetProperty("id").GetGuid();
        using var activated = await api.VerbAsync(id, "activate");
        Assert.Equal(HttpStatusCode.OK, activated.StatusCode);
        return id;
    }

    internal static async Task<List<(string Type, JsonElement Payload)>> OutboxAsync(Guid aggregateId)
    {
        var rows = await IdentityApi.ScalarAsync<string>(
            "SELECT coalesce(json_agg(json_build_object('type', type, 'payload', payload) ORDER BY occurred_at, id)::text, '[]') FROM platform.outbox WHERE aggregate_id = $1", aggregateId);
        return JsonDocument.Parse(rows!).RootElement.EnumerateArray()
            .Select(e => (e.GetProperty("type").GetString()!, e.GetProperty("payload").Clone())).ToList();
    }
}
