using System.Net;
using System.Net.Http.Json;
using Canopy.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Platform;

public sealed class RateLimitTests
{
    // Each test is its own caller: a fresh address, so its quota is its own in the shared Redis.
    private readonly IPAddress _caller = new([10, (byte)Random.Shared.Next(256), (byte)Random.Shared.Next(256), (byte)Random.Shared.Next(1, 255)]);

    [Fact]
    public async Task Given_a_quota_of_5_Then_the_5th_request_passes_the_6th_is_refused_and_the_headers_count_down()
    {
        await using var factory = Host(authLimit: 5);
        using var client = factory.CreateClient();

        var remaining = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            using var allowed = await SignInAsync(client);
            Assert.Equal(HttpStatusCode.Unauthorized, allowed.StatusCode);
            Assert.Equal("\"auth\";q=5;w=60", Header(allowed, "RateLimit-Policy"));
            remaining.Add(Header(allowed, "RateLimit")!.Split(';')[1]);
        }

        using var refused = await SignInAsync(client);

        Assert.Equal(["r=4", "r=3", "r=2", "r=1", "r=0"], remaining);
        var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.TooManyRequests, "quota-exceeded");
        Assert.Equal("auth", problem.GetProperty("violated_policies")[0].GetString());
        var retryAfter = (int)refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds;
        Assert.InRange(retryAfter, 1, 12);
        Assert.Equal($"\"auth\";r=0;t={retryAfter}", Header(refused, "RateLimit"));
        Assert.Equal("no-store", refused.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Given_a_refused_attempt_Then_it_spends_the_quota_and_carries_the_headers_too()
    {
        await using var factory = Host(authLimit: 2);
        using var client = factory.CreateClient();

        using var unauthorised = await client.PostAsJsonAsync(new Uri("/api/v1/auth/tokens/revoke", UriKind.Relative), new { refresh_token = "rt_x" });
        using var second = await SignInAsync(client);
        using var third = await SignInAsync(client);

        await ProblemAssert.IsProblemAsync(unauthorised, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Equal("\"auth\";q=2;w=60", Header(unauthorised, "RateLimit-Policy"));
        Assert.Equal(HttpStatusCode.Unauthorized, second.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
    }

    [Fact]
    public async Task Given_two_instances_sharing_redis_Then_they_enforce_one_quota()
    {
        await using var first = Host(authLimit: 4);
        await using var second = Host(authLimit: 4);
        using var a = first.CreateClient();
        using var b = second.CreateClient();

        var statuses = new List<HttpStatusCode>();
        foreach (var client in new[] { a, b, a, b, a, b })
        {
            using var response = await SignInAsync(client);
            statuses.Add(response.StatusCode);
        }

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Unauthorized, 4), HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task Given_a_spoofed_forwarded_for_from_an_untrusted_address_Then_the_quota_is_still_the_callers()
    {
        await using var factory = Host(authLimit: 2);
        using var client = factory.CreateClient();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/tokens") { Content = JsonContent.Create(new { email = "x@farm.example", password = "wrong-password" }) };
            request.Headers.Add("X-Forwarded-For", $"203.0.113.{i + 1}");
            using var response = await client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[2]);
    }

    [Fact]
    public async Task Given_redis_stops_Then_requests_are_still_served_limited_per_instance_logged_and_readiness_fails()
    {
        using var redis = new DisposableRedis();
        var logs = new CapturedLogs();
        await using var factory = Host(authLimit: 3, redis.ConnectionString, logs);
        using var client = factory.CreateClient();

        redis.Stop();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await SignInAsync(client);
            statuses.Add(response.StatusCode);
            Assert.Equal("\"auth\";q=3;w=60", Header(response, "RateLimit-Policy"));
        }

        using var ready = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        await logs.WaitForAsync(l => l.GetProperty("message").GetString()!.Contains("enforced per instance", StringComparison.Ordinal), "about the in-memory limits");
    }

    private CanopyApiFactory Host(int authLimit, string? redis = null, CapturedLogs? logs = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["RateLimits:Tiers:auth:Limit"] = authLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RateLimits:Tiers:auth:WindowSeconds"] = "60",
        };
        if (redis is not null)
        {
            settings["ConnectionStrings:Redis"] = redis;
        }

        return new CanopyApiFactory(settings, services =>
        {
            services.AddSingleton<IStartupFilter>(new FromAddress(_caller));
            logs?.InstallInto(services);
        });
    }

    private static Task<HttpResponseMessage> SignInAsync(HttpClient client) =>
        client.PostAsJsonAsync(new Uri("/api/v1/auth/tokens", UriKind.Relative), new { email = "nobody@farm.example", password = "not-the-password" });

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.Single() : null;

    /// <summary>The in-memory server has no client address; this gives every request the test's.</summary>
    private sealed class FromAddress(IPAddress address) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                context.Connection.RemoteIpAddress = address;
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
