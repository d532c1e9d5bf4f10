using System.Net;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Fleet;

public sealed class TenantIsolationTests(FleetHost host) : IClassFixture<FleetHost>
{
    [Fact]
    public async Task Given_two_organisations_Then_b_finds_none_of_as_farms_zones_or_devices_through_any_operation_and_changes_nothing()
    {
        var a = (await host.NewOrganisationAsync()).Api;
        var b = (await host.NewOrganisationAsync()).Api;
        var farmId = (await a.NewFarmAsync()).GetProperty("id").GetGuid();
        var zoneId = (await a.NewZoneAsync(farmId)).GetProperty("id").GetGuid();
        var deviceId = (await a.NewDeviceAsync(zoneId)).GetProperty("id").GetGuid();
        var ownZone = (await b.NewZoneAsync()).GetProperty("id").GetGuid();

        foreach (var path in new[] { $"/api/v1/farms/{farmId}", $"/api/v1/farms/{farmId}/zones", $"/api/v1/zones/{zoneId}", $"/api/v1/devices/{deviceId}" })
        {
            using var read = await b.GetAsync(path);
            await ProblemAssert.IsProblemAsync(read, HttpStatusCode.NotFound, "not-found");
        }

        (string Path, object? Body)[] changes =
        [
            ($"/api/v1/farms/{farmId}/rename", new { name = "Mine now" }),
            ($"/api/v1/farms/{farmId}/archive", null),
            ($"/api/v1/zones/{zoneId}/set-targets", new { targets = new { } }),
            ($"/api/v1/zones/{zoneId}/archive", null),
            ($"/api/v1/devices/{deviceId}/activate", null),
            ($"/api/v1/devices/{deviceId}/move", new { zone_id = ownZone }),
            ($"/api/v1/devices/{deviceId}/report-fault", new { code = "other", note = "x" }),
            ($"/api/v1/devices/{deviceId}/clear-fault", null),
        ];
        foreach (var (path, body) in changes)
        {
            using var change = await b.PostAsync(path, body, ifMatch: "\"1\"");
            await ProblemAssert.IsProblemAsync(change, HttpStatusCode.NotFound, "not-found");
        }

        foreach (var path in new[] { $"/api/v1/devices/{deviceId}/decommission", $"/api/v1/devices/{deviceId}/rotate-credential" })
        {
            using var critical = await b.PostAsync(path, ifMatch: "\"1\"", idempotencyKey: FleetApi.Key());
            await ProblemAssert.IsProblemAsync(critical, HttpStatusCode.NotFound, "not-found");
        }

        using var zoneInForeignFarm = await b.CreateZoneAsync(farmId);
        await ProblemAssert.IsProblemAsync(zoneInForeignFarm, HttpStatusCode.NotFound, "not-found");
        using var deviceInForeignZone = await b.RegisterAsync(zoneId);
        await ProblemAssert.IsProblemAsync(deviceInForeignZone, HttpStatusCode.NotFound, "not-found");
        foreach (var list in new[] { "/api/v1/farms", "/api/v1/devices", $"/api/v1/devices?zone_id={zoneId}" })
        {
            using var response = await b.GetAsync(list);
            var ids = (await FleetApi.Json(response)).GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetGuid());
            Assert.DoesNotContain(farmId, ids);
            Assert.DoesNotContain(deviceId, ids);
        }

        // Every row is still at its first version: nothing B sent changed anything.
        Assert.Equal(3L, await IdentityApi.ScalarAsync<long>(
            "SELECT ((SELECT version FROM fleet.farms WHERE id = $1) + (SELECT version FROM fleet.zones WHERE id = $2) + (SELECT version FROM fleet.devices WHERE id = $3))::bigint",
            farmId, zoneId, deviceId));
    }
}
