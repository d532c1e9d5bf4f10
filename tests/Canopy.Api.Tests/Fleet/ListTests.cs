using System.Net;
using System.Text.Json;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Fleet;

public sealed class ListTests(FleetHost host) : IClassFixture<FleetHost>
{
    [Fact]
    public async Task Given_an_empty_organisation_Then_every_list_is_an_empty_last_page()
    {
        var api = (await host.NewOrganisationAsync()).Api;

        foreach (var path in new[] { "/api/v1/farms", "/api/v1/devices" })
        {
            using var response = await api.GetAsync(path);
            var page = await FleetApi.Json(response);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Empty(page.GetProperty("data").EnumerateArray());
            Assert.False(page.GetProperty("has_more").GetBoolean());
            Assert.Equal(JsonValueKind.Null, page.GetProperty("next_cursor").ValueKind);
        }
    }

    [Fact]
    public async Task Given_limit_1_200_and_201_Then_the_first_two_page_and_201_is_400_naming_limit()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var zoneId = (await api.NewZoneAsync()).GetProperty("id").GetGuid();
        await api.NewDeviceAsync(zoneId);
        await api.NewDeviceAsync(zoneId);

        using var one = await api.GetAsync("/api/v1/devices?limit=1");
        using var max = await api.GetAsync("/api/v1/devices?limit=200");
        using var over = await api.GetAsync("/api/v1/devices?limit=201");
        using var zero = await api.GetAsync("/api/v1/devices?limit=0");

        var first = await FleetApi.Json(one);
        Assert.Single(first.GetProperty("data").EnumerateArray());
        Assert.True(first.GetProperty("has_more").GetBoolean());
        Assert.Equal(2, (await FleetApi.Json(max)).GetProperty("data").GetArrayLength());
        foreach (var refused in new[] { over, zero })
        {
            var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.BadRequest, "malformed-request");
            Assert.Contains(((string?)null, "limit", "query"), ProblemAssert.Errors(problem));
        }
    }

    [Fact]
    public async Task Given_a_tampered_cursor_or_one_from_other_filters_Then_400_naming_the_cursor()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var zoneId = (await api.NewZoneAsync()).GetProperty("id").GetGuid();
        await api.NewDeviceAsync(zoneId);
        await api.NewDeviceAsync(zoneId);
        using var first = await api.GetAsync("/api/v1/devices?limit=1");
        var cursor = (await FleetApi.Json(first)).GetProperty("next_cursor").GetString()!;
        var tampered = cursor[..^2] + (cursor[^2] == 'A' ? "B" : "A") + cursor[^1];

        using var altered = await api.GetAsync($"/api/v1/devices?limit=1&cursor={tampered}");
        using var otherFilters = await api.GetAsync($"/api/v1/devices?limit=1&status=ACTIVE&cursor={cursor}");

        foreach (var refused in new[] { altered, otherFilters })
        {
            var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.BadRequest, "malformed-request");
            Assert.Contains(((string?)null, "cursor", "query"), ProblemAssert.Errors(problem));
        }
    }

    [Fact]
    public async Task Given_devices_registered_between_pages_Then_paging_shows_every_device_once_in_registration_order()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var zoneId = (await api.NewZoneAsync()).GetProperty("id").GetGuid();
        var registered = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            registered.Add((await api.NewDeviceAsync(zoneId)).GetProperty("id").GetGuid());
        }

        var seen = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            using var response = await api.GetAsync("/api/v1/devices?limit=2" + (cursor is null ? "" : "&cursor=" + cursor));
            var page = await FleetApi.Json(response);
            seen.AddRange(page.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("next_cursor").GetString();
            if (pages++ == 0)
            {
                // Between the first and second page, two more devices arrive.
                registered.Add((await api.NewDeviceAsync(zoneId)).GetProperty("id").GetGuid());
                registered.Add((await api.NewDeviceAsync(zoneId)).GetProperty("id").GetGuid());
            }
        }
        while (cursor is not null);

        Assert.Equal(registered, seen);
        Assert.Equal(4, pages);
    }

    [Fact]
    public async Task Given_filters_Then_devices_are_listed_by_status_farm_zone_and_model()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var farmA = (await api.NewFarmAsync()).GetProperty("id").GetGuid();
        var zoneA = (await api.NewZoneAsync(farmA)).GetProperty("id").GetGuid();
        var zoneB = (await api.NewZoneAsync()).GetProperty("id").GetGuid();
        var active = await DeviceTests.ActiveDeviceAsync(api);
        var inA = (await api.NewDeviceAsync(zoneA)).GetProperty("id").GetGuid();
        var light = (await FleetApi.CreatedAsync(await api.RegisterAsync(zoneB, model: "apogee-sq-520"))).GetProperty("device").GetProperty("id").GetGuid();

        Assert.Equal([active], await IdsAsync(api, "status=ACTIVE"));
        Assert.Equal([inA], await IdsAsync(api, $"farm_id={farmA}"));
        Assert.Equal([inA], await IdsAsync(api, $"zone_id={zoneA}"));
        Assert.Equal([light], await IdsAsync(api, "model=apogee-sq-520"));
        Assert.Empty(await IdsAsync(api, $"zone_id={zoneA}&status=ACTIVE"));
        using var badStatus = await api.GetAsync("/api/v1/devices?status=BROKEN");
        await ProblemAssert.IsProblemAsync(badStatus, HttpStatusCode.BadRequest, "malformed-request");
    }

    [Fact]
    public async Task Given_farms_Then_they_list_by_name_case_insensitively_and_filter_by_prefix_across_pages()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        foreach (var name in new[] { "delta", "Alpha", "bravo", "Alpine", "charlie" })
        {
            await api.NewFarmAsync(name);
        }

        Assert.Equal(["Alpha", "Alpine", "bravo", "charlie", "delta"], await NamesAsync(api, "limit=2"));
        Assert.Equal(["Alpha", "Alpine"], await NamesAsync(api, "limit=1&name_prefix=alp"));
    }

    [Fact]
    public async Task Given_the_catalogue_Then_every_model_is_listed_with_its_metrics()
    {
        var api = (await host.NewOrganisationAsync()).Api;

        using var response = await api.GetAsync("/api/v1/device-models?limit=200");

        var models = (await FleetApi.Json(response)).GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM fleet.device_models"), models.Count);
        var scd41 = models.Single(m => m.GetProperty("id").GetString() == "sensirion-scd41");
        Assert.Equal(["co2_ppm", "temperature_c", "humidity_pct"], scd41.GetProperty("metrics").EnumerateArray().Select(m => m.GetString()));
    }

    private static async Task<List<Guid>> IdsAsync(FleetApi api, string query)
    {
        using var response = await api.GetAsync("/api/v1/devices?" + query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await FleetApi.Json(response)).GetProperty("data").EnumerateArray().Select(d => d.GetProperty("id").GetGuid()).ToList();
    }

    private static async Task<List<string>> NamesAsync(FleetApi api, string query)
    {
        var names = new List<string>();
        string? cursor = null;
        do
        {
            using var response = await api.GetAsync("/api/v1/farms?" + query + (cursor is null ? "" : "&cursor=" + cursor));
            var page = await FleetApi.Json(response);
            names.AddRange(page.GetProperty("data").EnumerateArray().Select(f => f.GetProperty("name").GetString()!));
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        return names;
    }
}
