using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Canopy.Api.Tests.Fleet;

public sealed class HostileInputTests(FleetHost host) : IClassFixture<FleetHost>
{
    private const string Hostile = "'; DROP TABLE fleet.devices; -- <script>alert(1)</script> ${jndi:ldap://x} ../../etc/passwd";

    [Fact]
    public async Task Given_hostile_input_to_each_kind_of_fleet_failure_Then_every_answer_is_a_problem_that_reveals_no_internals_and_echoes_none_of_it()
    {
        var org = await host.NewOrganisationAsync();
        var api = org.Api;
        var viewer = await host.MemberAsync(org, "viewer");
        var farm = await api.NewFarmAsync();
        var farmId = farm.GetProperty("id").GetGuid();
        var deviceId = (await api.NewDeviceAsync((await api.NewZoneAsync(farmId)).GetProperty("id").GetGuid())).GetProperty("id").GetGuid();
        var body = (object value) => new StringContent(System.Text.Json.JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");
        var hostileFarm = new { name = Hostile, latitude = 1, longitude = 1, time_zone = Hostile };

        var cases = new (HttpStatusCode Status, HttpRequestMessage Request, string? Token)[]
        {
            (HttpStatusCode.Unauthorized, new(HttpMethod.Get, "/api/v1/farms"), Hostile),
            (HttpStatusCode.Forbidden, new(HttpMethod.Post, "/api/v1/farms") { Content = body(hostileFarm) }, viewer),
            (HttpStatusCode.NotFound, new(HttpMethod.Get, $"/api/v1/farms/{Guid.NewGuid()}"), null),
            (HttpStatusCode.BadRequest, new(HttpMethod.Get, "/api/v1/farms/" + Uri.EscapeDataString(Hostile)), null),
            (HttpStatusCode.BadRequest, new(HttpMethod.Get, "/api/v1/devices?cursor=" + Uri.EscapeDataString(Hostile)), null),
            (HttpStatusCode.BadRequest, new(HttpMethod.Post, "/api/v1/farms") { Content = new StringContent(Hostile, Encoding.UTF8, "application/json") }, null),
            (HttpStatusCode.Conflict, new(HttpMethod.Post, "/api/v1/farms") { Content = body(new { name = farm.GetProperty("name").GetString(), latitude = 1, longitude = 1, time_zone = "UTC" }) }, null),
            (HttpStatusCode.UnprocessableEntity, new(HttpMethod.Post, "/api/v1/farms") { Content = body(hostileFarm) }, null),
            (HttpStatusCode.BadRequest, new(HttpMethod.Post, "/api/v1/devices") { Content = body(new { serial_number = Hostile, model = Hostile, zone_id = Guid.NewGuid(), metrics = new[] { Hostile } }) }, null),
            (HttpStatusCode.UnprocessableEntity, new(HttpMethod.Post, "/api/v1/devices") { Content = body(new { serial_number = Hostile, model = Hostile, zone_id = Guid.NewGuid() }) }, null),
            (HttpStatusCode.PreconditionFailed, new(HttpMethod.Post, $"/api/v1/devices/{deviceId}/activate"), null),
            (HttpStatusCode.PreconditionRequired, new(HttpMethod.Post, $"/api/v1/farms/{farmId}/rename") { Content = body(new { name = Hostile }) }, null),
            (HttpStatusCode.Conflict, new(HttpMethod.Post, $"/api/v1/devices/{deviceId}/clear-fault"), null),
            (HttpStatusCode.RequestEntityTooLarge, new(HttpMethod.Post, "/api/v1/farms") { Content = body(new { name = new string('x', 1_100_000) }) }, null),
        };

        foreach (var (status, request, token) in cases)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token ?? org.OwnerToken);
            request.Headers.Add("Idempotency-Key", FleetApi.Key());
            var precondition = status == HttpStatusCode.PreconditionFailed ? Hostile : status == HttpStatusCode.Conflict && request.Content is null ? "\"1\"" : null;
            if (precondition is not null)
            {
                request.Headers.TryAddWithoutValidation("If-Match", precondition);
            }

            using var response = await api.Client.SendAsync(request);
            var parsed = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
            parsed.Remove("instance");
            var text = parsed.ToJsonString();

            Assert.True(response.StatusCode == status, $"{request.Method} {request.RequestUri}: expected {(int)status}, got {(int)response.StatusCode}: {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            foreach (var leak in new[] { "Exception", "   at ", "System.", "Npgsql", "Canopy.", ".cs:line", "SELECT ", "INSERT ", "fleet.", "23505", "DROP TABLE", "script", "jndi", "passwd", "127.0.0.1", "localhost", Environment.MachineName })
            {
                Assert.False(text.Contains(leak, StringComparison.Ordinal), $"{request.Method} {request.RequestUri} ({(int)status}) shows '{leak}': {text}");
            }
        }
    }
}
