using System.Net;
using System.Text.Json;
using Canopy.Api.Tests.Fleet;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Alerting;

public sealed class AlertRuleTests(FleetHost host) : IClassFixture<FleetHost>
{
    private const string Rules = "/api/v1/alert-rules";

    [Fact]
    public async Task Given_a_rule_on_a_zone_whose_device_reports_the_metric_Then_it_is_created_enabled_read_with_its_etag_and_recorded_with_its_event()
    {
        var (api, zone, _) = await GreenhouseAsync();

        using var created = await CreateAsync(api, Rule(zone, name: "  Greenhouse too hot  "));

        var rule = await FleetApi.CreatedAsync(created);
        var id = rule.GetProperty("id").GetGuid();
        Assert.Equal($"{Rules}/{id}", created.Headers.Location!.ToString());
        Assert.Equal("\"1\"", created.Headers.ETag!.ToString());
        Assert.Equal("Greenhouse too hot", rule.GetProperty("name").GetString());
        Assert.Equal(("temperature_c", "gt", 32.0, 300), (rule.GetProperty("metric").GetString(), rule.GetProperty("operator").GetString(),
            rule.GetProperty("threshold").GetDouble(), rule.GetProperty("for_seconds").GetInt32()));
        Assert.Equal(("zone", zone), (rule.GetProperty("scope").GetProperty("kind").GetString(), rule.GetProperty("scope").GetProperty("id").GetGuid()));
        Assert.Equal(("ENABLED", "critical"), (rule.GetProperty("status").GetString(), rule.GetProperty("severity").GetString()));
        Assert.Equal(["disable"], rule.GetProperty("allowed_verbs").EnumerateArray().Select(v => v.GetString()));

        using var read = await api.GetAsync($"{Rules}/{id}");
        using var notModified = await api.GetAsync($"{Rules}/{id}", "\"1\"");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(id, (await FleetApi.Json(read)).GetProperty("id").GetGuid());
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        var events = await DeviceTests.OutboxAsync(id);
        var raised = Assert.Single(events);
        Assert.Equal("alert_rule.created", raised.Type);
        Assert.Equal(("ENABLED", 1), (raised.Payload.GetProperty("status").GetString(), raised.Payload.GetProperty("version").GetInt32()));
    }

    [Fact]
    public async Task Given_rules_that_could_never_fire_Then_each_is_422_pointing_at_what_is_wrong_and_nothing_is_written()
    {
        var (api, zone, device) = await GreenhouseAsync();
        var farm = (await FleetApi.Json(await api.GetAsync($"/api/v1/zones/{zone}"))).GetProperty("farm_id").GetGuid();
        var foreignZone = await (await host.NewOrganisationAsync()).Api.NewZoneAsync();

        (object Body, string Pointer)[] cases =
        [
            (Rule(zone, metric: "light_ppfd", threshold: 1_500), "#/metric"),
            (Rule(zone, threshold: 85.000001), "#/threshold"),
            (Rule(zone, threshold: -40.000001, op: "lt"), "#/threshold"),
            (Rule(zone, op: "gt", threshold: null), "#/threshold"),
            (Rule(zone, op: "outside_target", threshold: 25), "#/threshold"),
            (Rule(zone, metric: "humidity_pct", op: "outside_target", threshold: null), "#/operator"),
            (Rule(device, kind: "device", metric: "humidity_pct", op: "outside_target", threshold: null), "#/operator"),
            (Rule(Guid.CreateVersion7(), kind: "farm"), "#/scope/id"),
            (Rule(foreignZone.GetProperty("id").GetGuid()), "#/scope/id"),
        ];
        foreach (var (body, pointer) in cases)
        {
            using var response = await CreateAsync(api, body);
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation-failed");
            Assert.Equal([pointer], ProblemAssert.Errors(problem).Select(e => e.Pointer));
        }

        // The ends of the range are thresholds a reading can reach; a farm's rule on outside_target uses each device's zone.
        await FleetApi.CreatedAsync(await CreateAsync(api, Rule(zone, threshold: 85, name: "At the top")));
        await FleetApi.CreatedAsync(await CreateAsync(api, Rule(zone, op: "lte", threshold: -40, name: "At the bottom")));
        await FleetApi.CreatedAsync(await CreateAsync(api, Rule(farm, kind: "farm", metric: "humidity_pct", op: "outside_target", threshold: null, name: "Farm humidity")));
        await FleetApi.CreatedAsync(await CreateAsync(api, Rule(zone, op: "outside_target", threshold: null, name: "Zone temperature")));
        Assert.Equal(4L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.rules WHERE scope_id = ANY($1)", new[] { zone, farm, device }));
    }

    [Fact]
    public async Task Given_two_disables_with_the_same_if_match_at_once_Then_one_applies_the_other_is_412_and_a_second_disable_is_409_naming_the_state()
    {
        var (api, zone, _) = await GreenhouseAsync();
        var id = (await FleetApi.CreatedAsync(await CreateAsync(api, Rule(zone)))).GetProperty("id").GetGuid();

        var responses = await Task.WhenAll(api.PostAsync($"{Rules}/{id}/disable", ifMatch: "\"1\""), api.PostAsync($"{Rules}/{id}/disable", ifMatch: "\"1\""));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.PreconditionFailed], responses.Select(r => r.StatusCode).Order());
        var disabled = await FleetApi.Json(responses.Single(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(("DISABLED", 2), (disabled.GetProperty("status").GetString(), disabled.GetProperty("version").GetInt32()));
        await ProblemAssert.IsProblemAsync(responses.Single(r => r.StatusCode != HttpStatusCode.OK), HttpStatusCode.PreconditionFailed, "precondition-failed");
        foreach (var response in responses)
        {
            response.Dispose();
        }

        using var again = await api.PostAsync($"{Rules}/{id}/disable", ifMatch: "\"2\"");
        var problem = await ProblemAssert.IsProblemAsync(again, HttpStatusCode.Conflict, "conflict");
        Assert.Equal("DISABLED", problem.GetProperty("current_state").GetString());
        Assert.Equal(["enable"], problem.GetProperty("allowed_verbs").EnumerateArray().Select(v => v.GetString()));

        using var enabled = await api.PostAsync($"{Rules}/{id}/enable", ifMatch: "\"2\"");
        using var noTag = await api.PostAsync($"{Rules}/{id}/disable");
        Assert.Equal(HttpStatusCode.OK, enabled.StatusCode);
        Assert.Equal("\"3\"", enabled.Headers.ETag!.ToString());
        Assert.Equal("ENABLED", (await FleetApi.Json(enabled)).GetProperty("status").GetString());
        await ProblemAssert.IsProblemAsync(noTag, HttpStatusCode.PreconditionRequired, "precondition-required");
        Assert.Equal(["alert_rule.created", "alert_rule.disabled", "alert_rule.enabled"], (await DeviceTests.OutboxAsync(id)).Select(e => e.Type));
    }

    [Fact]
    public async Task Given_two_rules_of_the_same_name_at_once_Then_one_201_and_one_409_pointing_at_the_name_and_one_row()
    {
        var (api, zone, _) = await GreenhouseAsync();
        var name = FleetApi.Name("Rule");

        var responses = await Task.WhenAll(CreateAsync(api, Rule(zone, name: name)), CreateAsync(api, Rule(zone, name: name.ToUpperInvariant())));

        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Conflict], responses.Select(r => r.StatusCode).Order());
        var problem = await ProblemAssert.IsProblemAsync(responses.Single(r => r.StatusCode == HttpStatusCode.Conflict), HttpStatusCode.Conflict, "conflict");
        Assert.Equal(["#/name"], ProblemAssert.Errors(problem).Select(e => e.Pointer));
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.rules WHERE lower(name) = lower($1)", name));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Given_rules_of_two_organisations_Then_each_lists_and_reads_only_its_own_newest_first_in_pages_and_by_state()
    {
        var (api, zone, _) = await GreenhouseAsync();
        var (other, otherZone, _) = await GreenhouseAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await FleetApi.CreatedAsync(await CreateAsync(api, Rule(zone, name: $"Rule {i}")))).GetProperty("id").GetGuid());
        }

        var foreign = (await FleetApi.CreatedAsync(await CreateAsync(other, Rule(otherZone)))).GetProperty("id").GetGuid();
        using (var disabled = await api.PostAsync($"{Rules}/{ids[1]}/disable", ifMatch: "\"1\""))
        {
            Assert.Equal(HttpStatusCode.OK, disabled.StatusCode);
        }

        var first = await PageAsync(api, $"{Rules}?limit=2");
        var second = await PageAsync(api, $"{Rules}?limit=2&cursor={first.GetProperty("next_cursor").GetString()}");
        var onlyDisabled = await PageAsync(api, $"{Rules}?status=DISABLED");
        using var foreignRead = await api.GetAsync($"{Rules}/{foreign}");
        using var foreignDisable = await api.PostAsync($"{Rules}/{foreign}/disable", ifMatch: "\"1\"");

        Assert.Equal([ids[2], ids[1]], Ids(first));
        Assert.True(first.GetProperty("has_more").GetBoolean());
        Assert.Equal([ids[0]], Ids(second));
        Assert.False(second.GetProperty("has_more").GetBoolean());
        Assert.Equal([ids[1]], Ids(onlyDisabled));
        await ProblemAssert.IsProblemAsync(foreignRead, HttpStatusCode.NotFound, "not-found");
        await ProblemAssert.IsProblemAsync(foreignDisable, HttpStatusCode.NotFound, "not-found");
        Assert.Equal("ENABLED", await IdentityApi.ScalarAsync<string>("SELECT status FROM alerting.rules WHERE id = $1", foreign));
    }

    [Fact]
    public async Task Given_the_roles_Then_viewers_read_rules_and_operators_create_and_disable_them()
    {
        var organisation = await host.NewOrganisationAsync();
        var owner = organisation.Api;
        var zone = (await owner.NewZoneAsync()).GetProperty("id").GetGuid();
        await owner.NewDeviceAsync(zone);
        var viewer = owner.As(await host.MemberAsync(organisation, "viewer"));
        var operatorApi = owner.As(await host.MemberAsync(organisation, "operator"));

        using var refused = await CreateAsync(viewer, Rule(zone));
        var id = (await FleetApi.CreatedAsync(await CreateAsync(operatorApi, Rule(zone)))).GetProperty("id").GetGuid();
        using var viewerReads = await viewer.GetAsync($"{Rules}/{id}");
        using var viewerDisables = await viewer.PostAsync($"{Rules}/{id}/disable", ifMatch: "\"1\"");
        using var operatorDisables = await operatorApi.PostAsync($"{Rules}/{id}/disable", ifMatch: "\"1\"");

        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(HttpStatusCode.OK, viewerReads.StatusCode);
        await ProblemAssert.IsProblemAsync(viewerDisables, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(HttpStatusCode.OK, operatorDisables.StatusCode);
    }

    /// <summary>An organisation with a zone and one device in it (CO₂, temperature, humidity) whose zone has a temperature target.</summary>
    private async Task<(FleetApi Api, Guid Zone, Guid Device)> GreenhouseAsync()
    {
        var api = (await host.NewOrganisationAsync()).Api;
        var farm = (await api.NewFarmAsync()).GetProperty("id").GetGuid();
        var zone = (await FleetApi.CreatedAsync(await api.CreateZoneAsync(farm, targets: new { temperature_c = new { min = 18, max = 26 } }))).GetProperty("id").GetGuid();
        var device = (await api.NewDeviceAsync(zone)).GetProperty("id").GetGuid();
        return (api, zone, device);
    }

    private static Task<HttpResponseMessage> CreateAsync(FleetApi api, object body) => api.PostAsync(Rules, body, idempotencyKey: FleetApi.Key());

    private static Dictionary<string, object?> Rule(
        Guid scope, string kind = "zone", string metric = "temperature_c", string op = "gt", double? threshold = 32, string? name = null) => new()
    {
        ["name"] = name ?? FleetApi.Name("Rule"),
        ["metric"] = metric,
        ["operator"] = op,
        ["threshold"] = threshold,
        ["for_seconds"] = 300,
        ["scope"] = new { kind, id = scope },
        ["severity"] = "critical",
    };

    private static async Task<JsonElement> PageAsync(FleetApi api, string path)
    {
        using var response = await api.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await FleetApi.Json(response);
    }

    private static List<Guid> Ids(JsonElement page) => page.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("id").GetGuid()).ToList();
}
