using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Canopy.Api.Tests.Fleet;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Telemetry;

/// <summary>
/// One in-memory host for the Telemetry tests of a class, running the workers (outbox relay,
/// rollups, partitions) as a deployment's single process does, against the real servers.
/// </summary>
public sealed class TelemetryHost : IAsyncLifetime
{
    internal CanopyApiFactory Factory { get; } = new(new Dictionary<string, string?>
    {
        ["Runtime:Role"] = "all",
        ["Messaging:PollMilliseconds"] = "100",
        ["Telemetry:RollupIntervalMilliseconds"] = "100",
    });

    /// <summary>A new organisation with one zone: its owner's Fleet API and the zone.</summary>
    internal async Task<Grower> NewGrowerAsync()
    {
        var api = new IdentityApi(Factory.CreateClient());
        var owner = await api.NewAccountAsync();
        var tokens = await api.TokensAsync(owner.Email);
        var fleet = new FleetApi(Factory.CreateClient(), tokens.Access);
        var zone = (await fleet.NewZoneAsync()).GetProperty("id").GetGuid();
        return new Grower(owner.TenantId, tokens.Access, zone, fleet, this);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}

internal sealed record Grower(Guid TenantId, string OwnerToken, Guid ZoneId, FleetApi Fleet, TelemetryHost Host)
{
    public TelemetryApi Telemetry => new(Host.Factory.CreateClient());

    /// <summary>A registered device (activated unless told not to) and its credential's secret.</summary>
    public async Task<(Guid Id, string Secret)> DeviceAsync(bool activate = true, string model = "milesight-em500-co2", Guid? zone = null)
    {
        var created = await FleetApi.CreatedAsync(await Fleet.RegisterAsync(zone ?? ZoneId, model: model));
        var id = created.GetProperty("device").GetProperty("id").GetGuid();
        if (activate)
        {
            using var activated = await Fleet.VerbAsync(id, "activate");
            Assert.Equal(HttpStatusCode.OK, activated.StatusCode);
        }

        return (id, created.GetProperty("credential").GetProperty("secret").GetString()!);
    }

    /// <summary>A device ready to send: activated, with a device token.</summary>
    public async Task<Sender> SenderAsync(string model = "milesight-em500-co2", Guid? zone = null)
    {
        var (id, secret) = await DeviceAsync(model: model, zone: zone);
        return new Sender(id, await Telemetry.TokenAsync(id, secret), Telemetry);
    }
}

/// <summary>A device with its token.</summary>
internal sealed record Sender(Guid DeviceId, string Token, TelemetryApi Api)
{
    public Task<HttpResponseMessage> SendAsync(params object[] readings) => Api.IngestAsync(Token, readings);
}

/// <summary>The Telemetry operations over HTTP.</summary>
internal sealed class TelemetryApi(HttpClient client)
{
    public HttpClient Client { get; } = client;

    public Task<HttpResponseMessage> IssueAsync(Guid deviceId, string credential) =>
        Client.PostAsJsonAsync("/api/v1/device-tokens", new { device_id = deviceId, credential });

    public async Task<string> TokenAsync(Guid deviceId, string credential)
    {
        using var response = await IssueAsync(deviceId, credential);
        var body = await IdentityApi.Json(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body.GetProperty("access_token").GetString()!;
    }

    public Task<HttpResponseMessage> IngestAsync(string token, IEnumerable<object> readings)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/telemetry/batches") { Content = JsonContent.Create(new { readings }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return Client.SendAsync(request);
    }

    public Task<HttpResponseMessage> GetAsync(string path, string token, string? ifNoneMatch = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (ifNoneMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }

        return Client.SendAsync(request);
    }

    public static object Reading(string metric, double value, DateTimeOffset at) => new { metric, value, recorded_at = at };

    /// <summary>The (accepted, duplicates) of a 200 answer.</summary>
    public static async Task<(int Accepted, int Duplicates)> CountsAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var raw = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {raw}");
            var body = JsonDocument.Parse(raw).RootElement;
            return (body.GetProperty("accepted").GetInt32(), body.GetProperty("duplicates").GetInt32());
        }
    }

    public static Task<long> StoredAsync(Guid deviceId) =>
        IdentityApi.ScalarAsync<long>("SELECT count(*) FROM telemetry.readings WHERE device_id = $1", deviceId);

    /// <summary>Polls a condition the workers make true (events delivered, rollups computed), for at most 15 s.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting until {what}.");
            await Task.Delay(100);
        }
    }
}
