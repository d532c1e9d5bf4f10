using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Fleet;

/// <summary>One in-memory host shared by the Fleet tests of a class, with organisations and members made through the API.</summary>
public sealed class FleetHost : IAsyncLifetime
{
    private readonly IdentityHost _identity = new();

    internal CanopyApiFactory Factory => _identity.Factory;

    /// <summary>A new organisation: its owner's access token.</summary>
    internal async Task<Organisation> NewOrganisationAsync()
    {
        var api = new IdentityApi(Factory.CreateClient());
        var owner = await api.NewAccountAsync();
        var tokens = await api.TokensAsync(owner.Email);
        return new Organisation(owner.TenantId, tokens.Access, this);
    }

    /// <summary>A member of the organisation with this role (invited by its owner, invitation accepted), signed in.</summary>
    internal async Task<string> MemberAsync(Organisation organisation, string role)
    {
        var api = new IdentityApi(Factory.CreateClient());
        var email = IdentityApi.NewEmail(role);
        using var invited = await api.PostAsync("/api/v1/invitations", new { email, role }, organisation.OwnerToken, Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Created, invited.StatusCode);
        var token = await _identity.InvitationTokenAsync((await IdentityApi.Json(invited)).GetProperty("id").GetGuid());
        using var accepted = await api.PostAsync("/api/v1/invitations/accept",
            new { token, password = IdentityApi.Password, display_name = "Field Hand" }, idempotencyKey: Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        return (await api.TokensAsync(email)).Access;
    }

    public Task InitializeAsync() => _identity.InitializeAsync();

    public Task DisposeAsync() => _identity.DisposeAsync();
}

internal sealed record Organisation(Guid TenantId, string OwnerToken, FleetHost Host)
{
    public FleetApi Api => new(Host.Factory.CreateClient(), OwnerToken);
}

/// <summary>The Fleet operations over HTTP, as one caller (an access token) uses them.</summary>
internal sealed class FleetApi(HttpClient client, string accessToken)
{
    public const string FarmPath = "/api/v1/farms";

    public HttpClient Client { get; } = client;

    public FleetApi As(string token) => new(Client, token);

    public Task<HttpResponseMessage> GetAsync(string path, string? ifNoneMatch = null) =>
        SendAsync(HttpMethod.Get, path, null, ifNoneMatch: ifNoneMatch);

    public Task<HttpResponseMessage> PostAsync(string path, object? body = null, string? ifMatch = null, string? idempotencyKey = null) =>
        SendAsync(HttpMethod.Post, path, body, ifMatch, idempotencyKey);

    public Task<HttpResponseMessage> CreateFarmAsync(string? name = null, string timeZone = "Europe/Amsterdam") =>
        PostAsync(FarmPath, new { name = name ?? Name("Farm"), latitude = 52.09, longitude = 5.12, time_zone = timeZone, area_ha = 3.5 }, idempotencyKey: Key());

    public async Task<JsonElement> NewFarmAsync(string? name = null) => await CreatedAsync(await CreateFarmAsync(name));

    public Task<HttpResponseMessage> CreateZoneAsync(Guid farmId, string? name = null, object? targets = null) =>
        PostAsync($"/api/v1/farms/{farmId}/zones", new { name = name ?? Name("Zone"), kind = "greenhouse", targets = targets ?? new { } }, idempotencyKey: Key());

    public async Task<JsonElement> NewZoneAsync(Guid? farmId = null, string? name = null)
    {
        farmId ??= (await NewFarmAsync()).GetProperty("id").GetGuid();
        return await CreatedAsync(await CreateZoneAsync(farmId.Value, name));
    }

    public Task<HttpResponseMessage> RegisterAsync(Guid zoneId, string? serial = null, string model = "sensirion-scd41", string[]? metrics = null) =>
        PostAsync("/api/v1/devices", metrics is null
            ? new { serial_number = serial ?? Serial(), model, zone_id = zoneId }
            : new { serial_number = serial ?? Serial(), model, zone_id = zoneId, metrics }, idempotencyKey: Key());

    /// <summary>A registered device (its body, without the credential).</summary>
    public async Task<JsonElement> NewDeviceAsync(Guid zoneId, string? serial = null) =>
        (await CreatedAsync(await RegisterAsync(zoneId, serial))).GetProperty("device");

    /// <summary>A verb on a device, with If-Match set to <paramref name="etag"/> (read first when null).</summary>
    public async Task<HttpResponseMessage> VerbAsync(Guid deviceId, string verb, object? body = null, string? etag = null)
    {
        etag ??= await ETagAsync($"/api/v1/devices/{deviceId}");
        return await PostAsync($"/api/v1/devices/{deviceId}/{verb}", body, etag, verb is "decommission" or "rotate-credential" ? Key() : null);
    }

    public async Task<string> ETagAsync(string path)
    {
        using var response = await GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.ETag!.ToString();
    }

    public static async Task<JsonElement> CreatedAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var raw = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"Expected 201, got {(int)response.StatusCode}: {raw}");
            return JsonDocument.Parse(raw).RootElement.Clone();
        }
    }

    public static Task<JsonElement> Json(HttpResponseMessage response) => IdentityApi.Json(response);

    public static string Key() => Guid.NewGuid().ToString();

    public static string Name(string what) => $"{what} {Guid.NewGuid():N}"[..24];

    public static string Serial() => "SN-" + Guid.NewGuid().ToString("N")[..16].ToUpperInvariant();

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body, string? ifMatch = null, string? idempotencyKey = null, string? ifNoneMatch = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        if (ifNoneMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }

        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return Client.SendAsync(request);
    }
}
