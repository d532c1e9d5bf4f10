using System.Net;
using System.Text;
using System.Text.Json;
using Canopy.Api.Tests.Fleet;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Telemetry;

public sealed class DeviceTokenTests(TelemetryHost host) : IClassFixture<TelemetryHost>
{
    [Fact]
    public async Task Given_a_device_s_credential_Then_it_gets_a_short_lived_es256_device_token_naming_the_device_and_its_organisation()
    {
        var grower = await host.NewGrowerAsync();
        var (id, secret) = await grower.DeviceAsync();

        using var response = await grower.Telemetry.IssueAsync(id, secret);

        var body = await IdentityApi.Json(response);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
        Assert.Contains("\"auth\";q=", response.Headers.GetValues("RateLimit-Policy").Single(), StringComparison.Ordinal);
        var parts = body.GetProperty("access_token").GetString()!.Split('.');
        var header = Decode(parts[0]);
        var claims = Decode(parts[1]);
        Assert.Equal("ES256", header.GetProperty("alg").GetString());
        Assert.Equal("device+jwt", header.GetProperty("typ").GetString());
        Assert.Equal("canopy-devices", claims.GetProperty("aud").GetString());
        Assert.Equal(id.ToString(), claims.GetProperty("device").GetString());
        Assert.Equal(grower.TenantId.ToString(), claims.GetProperty("tid").GetString());
        Assert.InRange(claims.GetProperty("exp").GetInt64() - claims.GetProperty("iat").GetInt64(), 1, 900);
        Assert.Equal(900, body.GetProperty("expires_in").GetInt32());
    }

    [Fact]
    public async Task Given_a_wrong_secret_a_rotated_away_credential_a_decommissioned_device_or_an_unknown_one_Then_all_get_the_same_401_and_the_security_log_says_which()
    {
        var grower = await host.NewGrowerAsync();
        var (wrong, _) = await grower.DeviceAsync();
        var (rotated, oldSecret) = await grower.DeviceAsync();
        using (var rotation = await grower.Fleet.VerbAsync(rotated, "rotate-credential"))
        {
            Assert.Equal(HttpStatusCode.OK, rotation.StatusCode);
        }

        var (decommissioned, lastSecret) = await grower.DeviceAsync();
        using (var decommission = await grower.Fleet.VerbAsync(decommissioned, "decommission"))
        {
            Assert.Equal(HttpStatusCode.OK, decommission.StatusCode);
        }

        var attempts = new (Guid Device, string Secret, string Reason)[]
        {
            (wrong, "cdc_" + new string('x', 43), "wrong_secret"),
            (rotated, oldSecret, "revoked_credential"),
            (decommissioned, lastSecret, "decommissioned"),
            (Guid.NewGuid(), "cdc_" + new string('y', 43), "unknown_device"),
        };

        var details = new List<string>();
        foreach (var (device, secret, _) in attempts)
        {
            using var refused = await grower.Telemetry.IssueAsync(device, secret);
            var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Unauthorized, "invalid-device-credentials");
            details.Add(problem.GetProperty("detail").GetString()!);
        }

        Assert.Single(details.Distinct());
        foreach (var (device, _, reason) in attempts.Take(3))
        {
            await TelemetryApi.EventuallyAsync(async () => await IdentityApi.ScalarAsync<string>(
                    "SELECT detail->'detail'->>'reason' FROM identity.security_events WHERE tenant_id = $1 AND subject_id = $2 AND kind = 'device_token_refused'",
                    grower.TenantId, device) == reason,
                $"the security log records {reason} for its device");
        }

        using var log = await grower.Fleet.GetAsync("/api/v1/security-events?limit=50");
        var kinds = (await FleetApi.Json(log)).GetProperty("data").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToList();
        Assert.Equal(3, kinds.Count(k => k == "device_token_refused"));
    }

    [Fact]
    public async Task Given_a_malformed_request_Then_it_is_a_problem_naming_the_member_and_no_token()
    {
        var grower = await host.NewGrowerAsync();

        using var noSecret = await grower.Telemetry.Client.PostAsync("/api/v1/device-tokens",
            new StringContent("{\"device_id\":\"" + Guid.NewGuid() + "\"}", Encoding.UTF8, "application/json"));
        using var notASecret = await grower.Telemetry.IssueAsync(Guid.NewGuid(), "password123");

        var missing = await ProblemAssert.IsProblemAsync(noSecret, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Contains(missing.GetProperty("errors").EnumerateArray(), e => e.GetProperty("pointer").GetString() == "#/credential");
        var malformed = await ProblemAssert.IsProblemAsync(notASecret, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Contains(malformed.GetProperty("errors").EnumerateArray(), e => e.GetProperty("pointer").GetString() == "#/credential");
    }

    private static JsonElement Decode(string part)
    {
        var padded = part.Replace('-', '+').Replace('_', '/');
        padded += new string('=', (4 - (padded.Length % 4)) % 4);
        return JsonDocument.Parse(Convert.FromBase64String(padded)).RootElement.Clone();
    }
}
