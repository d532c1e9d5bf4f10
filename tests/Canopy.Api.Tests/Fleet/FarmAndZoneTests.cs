using System.Net;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Fleet;

public sealed class FarmAndZoneTests(FleetHost host) : IClassFixture<FleetHost>
{
    [Fact]
    public async Task Given_a_farm_created_Then_it_is_read_with_its_etag_and_recorded_with_its_event()
    {
        var api = (await host.NewOrganisationAsync()).Api;

        using var created = await api.CreateFarmAsync("  North Greenhouses  ");

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var farm = await FleetApi.Json(created);
        var id = farm.GetProperty("id").GetGuid();
        Assert.Equal("North Greenhouses", farm.GetProperty("name").GetString());
        Assert.Equal("\"1\"", created.Headers.ETag!.ToString());
        Assert.Equal($"/api/v1/farms/{id}", created.Headers.Location!.OriginalString);
        using var read = await api.GetAsync($"/api/v1/farms/{id}");
        Assert.Equal("\"1\"", read.Headers.ETag!.ToString());
        Assert.Equal("Europe/Amsterdam", (await FleetApi.Json(read)).GetProperty("time_zone").GetString());
        Assert.Equal(["farm.created"], (await DeviceTests.OutboxAsync(id)).Select(e => e.Type));
        Assert.Equal(7, id.Version);
    }

    [Fact]
    public async Task Given_two_farms_created_with_the_same_name_at_once_in_any_case_Then_one_201_and_one_409()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var name = FleetApi.Name("Farm");

        var responses = await Task.WhenAll(api.CreateFarmAsync(name), api.CreateFarmAsync(name.ToUpperInvariant()));

        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Conflict], responses.Select(r => r.StatusCode).Order());
        var problem = await ProblemAssert.IsProblemAsync(responses.Single(r => r.StatusCode == HttpStatusCode.Conflict), HttpStatusCode.Conflict, "conflict");
        Assert.Contains(("#/name", (string?)null, (string?)null), ProblemAssert.Errors(problem));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Given_bad_farm_input_Then_422_naming_the_member()
    {
        var api = (await host.NewOrganisationAsync()).Api;

        using var zone = await api.CreateFarmAsync(timeZone: "Mars/Olympus_Mons");
        using var latitude = await api.PostAsync(FleetApi.FarmPath, new { name = "Edge", latitude = 90.0001, longitude = 0, time_zone = "UTC" }, idempotencyKey: FleetApi.Key());
        using var blank = await api.PostAsync(FleetApi.FarmPath, new { name = "   ", latitude = 0, longitude = 0, time_zone = "UTC" }, idempotencyKey: FleetApi.Key());
        using var edge = await api.PostAsync(FleetApi.FarmPath, new { name = FleetApi.Name("Pole"), latitude = 90, longitude = -180, time_zone = "Antarctica/McMurdo" }, idempotencyKey: FleetApi.Key());

        Assert.Contains(("#/time_zone", (string?)null, (string?)null), ProblemAssert.Errors(await ProblemAssert.IsProblemAsync(zone, HttpStatusCode.UnprocessableEntity, "validation-failed")));
        Assert.Contains(("#/latitude", (string?)null, (string?)null), ProblemAssert.Errors(await ProblemAssert.IsProblemAsync(latitude, HttpStatusCode.UnprocessableEntity, "validation-failed")));
        Assert.Contains(("#/name", (string?)null, (string?)null), ProblemAssert.Errors(await ProblemAssert.IsProblemAsync(blank, HttpStatusCode.UnprocessableEntity, "validation-failed")));
        Assert.Equal(HttpStatusCode.Created, edge.StatusCode);
    }

    [Fact]
    public async Task Given_a_rename_Then_the_version_moves_a_stale_or_missing_if_match_is_refused_and_a_taken_name_is_409()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var farm = await api.NewFarmAsync();
        var taken = (await api.NewFarmAsync()).GetProperty("name").GetString();
        var path = $"/api/v1/farms/{farm.GetProperty("id").GetGuid()}/rename";

        using var missing = await api.PostAsync(path, new { name = "Renamed" });
        using var clash = await api.PostAsync(path, new { name = taken }, ifMatch: "\"1\"");
        using var renamed = await api.PostAsync(path, new { name = "Renamed farm" }, ifMatch: "\"1\"");
        using var stale = await api.PostAsync(path, new { name = "Again" }, ifMatch: "\"1\"");

        await ProblemAssert.IsProblemAsync(missing, HttpStatusCode.PreconditionRequired, "precondition-required");
        await ProblemAssert.IsProblemAsync(clash, HttpStatusCode.Conflict, "conflict");
        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        Assert.Equal("\"2\"", renamed.Headers.ETag!.ToString());
        Assert.Equal("Renamed farm", (await FleetApi.Json(renamed)).GetProperty("name").GetString());
        await ProblemAssert.IsProblemAsync(stale, HttpStatusCode.PreconditionFailed, "precondition-failed");
    }

    [Fact]
    public async Task Given_zone_targets_Then_plausible_ranges_are_kept_and_an_inverted_or_impossible_one_is_422_naming_the_metric()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var zone = await api.NewZoneAsync();
        var path = $"/api/v1/zones/{zone.GetProperty("id").GetGuid()}/set-targets";

        using var inverted = await api.PostAsync(path, new { targets = new { temperature_c = new { min = 26, max = 18 } } }, ifMatch: "\"1\"");
        using var impossible = await api.PostAsync(path, new { targets = new { humidity_pct = new { min = 50, max = 101 } } }, ifMatch: "\"1\"");
        using var unknown = await api.PostAsync(path, new { targets = new { ph = new { min = 5, max = 7 } } }, ifMatch: "\"1\"");
        using var set = await api.PostAsync(path, new { targets = new { temperature_c = new { min = 18, max = 18 }, co2_ppm = new { min = 0, max = 10000 } } }, ifMatch: "\"1\"");

        Assert.Contains(("#/targets/temperature_c", (string?)null, (string?)null),
            ProblemAssert.Errors(await ProblemAssert.IsProblemAsync(inverted, HttpStatusCode.UnprocessableEntity, "validation-failed")));
        Assert.Contains(("#/targets/humidity_pct", (string?)null, (string?)null),
            ProblemAssert.Errors(await ProblemAssert.IsProblemAsync(impossible, HttpStatusCode.UnprocessableEntity, "validation-failed")));
        await ProblemAssert.IsProblemAsync(unknown, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var targets = (await FleetApi.Json(set)).GetProperty("targets");
        Assert.Equal(18, targets.GetProperty("temperature_c").GetProperty("max").GetDouble());
        Assert.False(targets.TryGetProperty("humidity_pct", out var humidity) && humidity.ValueKind != System.Text.Json.JsonValueKind.Null);
        Assert.Equal("\"2\"", set.Headers.ETag!.ToString());
    }

    [Fact]
    public async Task Given_a_zone_or_farm_with_devices_Then_archiving_is_409_naming_them_and_after_decommissioning_it_succeeds()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var farmId = (await api.NewFarmAsync()).GetProperty("id").GetGuid();
        var zoneId = (await api.NewZoneAsync(farmId)).GetProperty("id").GetGuid();
        var device = await api.NewDeviceAsync(zoneId, "BLOCK-0001");

        using var zoneRefused = await api.PostAsync($"/api/v1/zones/{zoneId}/archive", ifMatch: "\"1\"");
        using var farmRefused = await api.PostAsync($"/api/v1/farms/{farmId}/archive", ifMatch: "\"1\"");

        foreach (var refused in new[] { zoneRefused, farmRefused })
        {
            var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Conflict, "conflict");
            Assert.Contains("BLOCK-0001", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal(device.GetProperty("id").GetGuid(), problem.GetProperty("blocking_devices")[0].GetProperty("id").GetGuid());
        }

        using (var decommissioned = await api.VerbAsync(device.GetProperty("id").GetGuid(), "decommission"))
        {
            Assert.Equal(HttpStatusCode.OK, decommissioned.StatusCode);
        }

        using var archived = await api.PostAsync($"/api/v1/farms/{farmId}/archive", ifMatch: "\"1\"");
        Assert.Equal(HttpStatusCode.NoContent, archived.StatusCode);
        using var farmGone = await api.GetAsync($"/api/v1/farms/{farmId}");
        using var zoneGone = await api.GetAsync($"/api/v1/zones/{zoneId}");
        await ProblemAssert.IsProblemAsync(farmGone, HttpStatusCode.NotFound, "not-found");
        await ProblemAssert.IsProblemAsync(zoneGone, HttpStatusCode.NotFound, "not-found");
        Assert.True(await IdentityApi.ScalarAsync<bool>("SELECT is_deleted FROM fleet.zones WHERE id = $1", zoneId));
        Assert.Equal(["zone.created", "zone.archived"], (await DeviceTests.OutboxAsync(zoneId)).Select(e => e.Type));
        Assert.Equal(["farm.created", "farm.archived"], (await DeviceTests.OutboxAsync(farmId)).Select(e => e.Type));
    }

    [Fact]
    public async Task Given_a_registration_racing_the_archiving_of_its_zone_Then_either_the_zone_is_archived_and_the_device_refused_or_the_archive_refused()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var zoneId = (await api.NewZoneAsync()).GetProperty("id").GetGuid();

        var register = api.RegisterAsync(zoneId);
        var archive = api.PostAsync($"/api/v1/zones/{zoneId}/archive", ifMatch: "\"1\"");
        using var registered = await register;
        using var archived = await archive;

        var outcome = (registered.StatusCode, archived.StatusCode);
        Assert.True(outcome is (HttpStatusCode.Created, HttpStatusCode.Conflict) or (HttpStatusCode.NotFound, HttpStatusCode.NoContent), $"{outcome}");
        var live = await IdentityApi.ScalarAsync<long>("""
            SELECT count(*) FROM fleet.devices d JOIN fleet.zones z ON z.id = d.zone_id
             WHERE z.id = $1 AND z.is_deleted AND d.status <> 'DECOMMISSIONED'
            """, zoneId);
        Assert.Equal(0L, live);
    }

    [Fact]
    public async Task Given_zone_names_Then_they_are_unique_per_farm_but_free_across_farms_and_a_zone_needs_a_live_farm_of_mine()
    {
        var org = await host.NewOrganisationAsync();
        var api = org.Api;
        var farmA = (await api.NewFarmAsync()).GetProperty("id").GetGuid();
        var farmB = (await api.NewFarmAsync()).GetProperty("id").GetGuid();
        var foreignFarm = (await (await host.NewOrganisationAsync()).Api.NewFarmAsync()).GetProperty("id").GetGuid();

        await FleetApi.CreatedAsync(await api.CreateZoneAsync(farmA, "House 1"));
        using var clash = await api.CreateZoneAsync(farmA, "house 1");
        using var otherFarm = await api.CreateZoneAsync(farmB, "House 1");
        using var foreign = await api.CreateZoneAsync(foreignFarm, "House 1");

        await ProblemAssert.IsProblemAsync(clash, HttpStatusCode.Conflict, "conflict");
        Assert.Equal(HttpStatusCode.Created, otherFarm.StatusCode);
        await ProblemAssert.IsProblemAsync(foreign, HttpStatusCode.NotFound, "not-found");
    }
}
