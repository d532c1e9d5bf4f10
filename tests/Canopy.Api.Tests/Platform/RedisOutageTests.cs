using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Platform;

public sealed class RedisOutageTests
{
    private const string ScrapeToken = "redis-outage-scrape-token";

    /// <summary>
    /// A stalled Redis (the process stopped with SIGSTOP: connections open, nothing answers) is the
    /// case that costs a timeout per call. Once the circuit opens, the fallbacks answer at once:
    /// rate limits per instance, token revocation and idempotency checked in PostgreSQL.
    /// </summary>
    [Fact]
    public async Task Given_redis_stalls_When_the_circuit_has_opened_Then_no_next_request_waits_for_redis_and_all_recovers_when_redis_returns()
    {
        using var redis = new DisposableRedis();
        var logs = new CapturedLogs();
        await using var factory = new CanopyApiFactory(
            new Dictionary<string, string?>
            {
                ["ConnectionStrings:Redis"] = redis.ConnectionString,
                ["Redis:TimeoutMilliseconds"] = "1500",
                ["Redis:BreakMinimumCalls"] = "4",
                // Long enough for the timed requests below to run while the circuit stays open.
                ["Redis:BreakSeconds"] = "10",
                ["Health:CheckTimeoutMilliseconds"] = "3000",
                ["Metrics:ScrapeToken"] = ScrapeToken,
            },
            logs.InstallInto);
        var api = new IdentityApi(factory.CreateClient());
        var account = await api.NewAccountAsync();
        var tokens = await api.TokensAsync(account.Email);

        redis.Freeze();
        // The calls that find out: each waits its timeout, then its fallback answers. However many
        // successful calls the sign-up left in the breaker's window, failures soon outnumber them.
        for (var round = 0; round < 5 && !CircuitOpened(logs); round++)
        {
            var tripping = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => api.Client.GetAsync(new Uri("/api/v1/auth/jwks", UriKind.Relative))));
            Assert.All(tripping, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            foreach (var response in tripping)
            {
                response.Dispose();
            }
        }

        await logs.WaitForAsync(l => l.GetProperty("message").GetString()!.Contains("Redis keeps failing", StringComparison.Ordinal), "about the open circuit");

        // A call that waited for Redis would take its whole 1,500 ms timeout; half of it bounds
        // what scheduling on a busy machine adds to a call that did not.
        for (var i = 0; i < 20; i++)
        {
            var started = Stopwatch.StartNew();
            using var jwks = await api.Client.GetAsync(new Uri("/api/v1/auth/jwks", UriKind.Relative));
            var elapsed = started.Elapsed;
            Assert.Equal(HttpStatusCode.OK, jwks.StatusCode);
            Assert.True(jwks.Headers.Contains("RateLimit"), "the per-instance rate limit still answers with its headers");
            Assert.True(elapsed < TimeSpan.FromMilliseconds(750), $"request {i} took {elapsed.TotalMilliseconds:F0} ms: it waited for the stalled Redis");
        }

        // Revocation is checked in PostgreSQL instead: signed-in operations answer without waiting
        // for Redis (its timeout is 1,500 ms), at the cost of a database round trip more.
        var me = Stopwatch.StartNew();
        using (var answered = await api.GetAsync("/api/v1/me", tokens.Access))
        {
            Assert.True(me.Elapsed < TimeSpan.FromMilliseconds(500), $"getMe took {me.Elapsed.TotalMilliseconds:F0} ms");
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        }

        // An idempotent write still takes effect exactly once (the PostgreSQL claim), without waiting for Redis.
        var key = Guid.NewGuid().ToString();
        var organisation = "Stalled Redis Farms " + key;
        var body = new { organization_name = organisation, email = IdentityApi.NewEmail(), password = IdentityApi.Password, display_name = "Ana Lima" };
        var write = Stopwatch.StartNew();
        using var created = await api.PostAsync("/api/v1/sign-ups", body, idempotencyKey: key);
        using var replayed = await api.PostAsync("/api/v1/sign-ups", body, idempotencyKey: key);
        Assert.True(write.Elapsed < TimeSpan.FromMilliseconds(1500), $"two sign-ups took {write.Elapsed.TotalMilliseconds:F0} ms: one waited for Redis");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.Created, replayed.StatusCode);
        Assert.Equal("true", replayed.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.tenants WHERE name = $1", organisation));

        using (var ready = await api.Client.GetAsync(new Uri("/health/ready", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            var checks = (await IdentityApi.Json(ready)).GetProperty("checks");
            Assert.Equal("fail", checks.GetProperty("redis:responseTime")[0].GetProperty("status").GetString());
            Assert.Equal("pass", checks.GetProperty("postgres:responseTime")[0].GetProperty("status").GetString());
        }

        var exposition = await ScrapeAsync(api.Client);
        Assert.Matches("canopy_redis_circuit_opened [1-9]", exposition);
        Assert.True(FallbackCount(exposition) >= 1, "the revocation check answered from PostgreSQL is counted");

        redis.Thaw();
        // Once the circuit lets calls through again, readiness passes and Redis answers the checks again.
        await EventuallyAsync(async () =>
        {
            using var readyAgain = await api.Client.GetAsync(new Uri("/health/ready", UriKind.Relative));
            return readyAgain.StatusCode == HttpStatusCode.OK;
        });
        var fallbacks = FallbackCount(await ScrapeAsync(api.Client));
        using (var back = await api.GetAsync("/api/v1/me", tokens.Access))
        {
            Assert.Equal(HttpStatusCode.OK, back.StatusCode);
        }

        Assert.Equal(fallbacks, FallbackCount(await ScrapeAsync(api.Client)));
    }

    private static async Task<string> ScrapeAsync(HttpClient client)
    {
        using var scrape = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        scrape.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ScrapeToken);
        using var metrics = await client.SendAsync(scrape);
        return await metrics.Content.ReadAsStringAsync();
    }

    private static long FallbackCount(string exposition) =>
        System.Text.RegularExpressions.Regex.Match(exposition, "canopy_identity_revocation_fallbacks\\{outcome=\"postgres\"\\} (\\d+)") is { Success: true } m
            ? long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
            : 0;

    private static bool CircuitOpened(CapturedLogs logs) => logs.Text.Contains("Redis keeps failing", StringComparison.Ordinal);

    private static async Task EventuallyAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(250);
        }

        Assert.Fail("Redis came back, but the service did not use it again within 30 s.");
    }
}
