using System.Net;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Platform;

public sealed class HttpHardeningTests
{
    [Fact]
    public async Task Given_any_response_Then_it_carries_the_security_headers_and_no_caching()
    {
        await using var factory = new CanopyApiFactory();
        using var client = factory.CreateClient();

        using var ok = await client.GetAsync(new Uri("/health/live", UriKind.Relative));
        using var problem = await client.GetAsync(new Uri("/nowhere", UriKind.Relative));

        foreach (var response in new[] { ok, problem })
        {
            Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
            Assert.Equal("DENY", Header(response, "X-Frame-Options"));
            Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
            Assert.StartsWith("default-src 'none'", Header(response, "Content-Security-Policy"), StringComparison.Ordinal);
            Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
            Assert.False(response.Headers.Contains("Server"));
        }
    }

    [Fact]
    public async Task Given_cors_origins_Then_only_listed_origins_get_a_preflight_answer()
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { ["Http:CorsAllowedOrigins"] = "https://app.canopy.test" });
        using var client = factory.CreateClient();

        using var allowed = await client.SendAsync(Preflight("https://app.canopy.test"));
        using var refused = await client.SendAsync(Preflight("https://evil.example"));

        Assert.Equal("https://app.canopy.test", Header(allowed, "Access-Control-Allow-Origin"));
        Assert.Contains("Idempotency-Key", Header(allowed, "Access-Control-Allow-Headers") ?? "", StringComparison.OrdinalIgnoreCase);
        Assert.Null(Header(refused, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Given_a_request_longer_than_the_timeout_Then_504_problem()
    {
        await using var factory = ProbeApplication.Create(new Dictionary<string, string?> { ["Http:RequestTimeoutSeconds"] = "1" });
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("/test-only/slow", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.GatewayTimeout, "request-timeout");
    }

    [Fact]
    public async Task Given_https_is_required_Then_plain_http_is_refused_even_when_an_untrusted_caller_claims_https()
    {
        await using var factory = ProbeApplication.Create(new Dictionary<string, string?> { ["Http:RequireHttps"] = "true" });
        using var client = factory.CreateClient();
        using var spoofed = new HttpRequestMessage(HttpMethod.Get, "/test-only/items");
        spoofed.Headers.Add("X-Forwarded-Proto", "https");
        spoofed.Headers.Add("X-Forwarded-For", "203.0.113.7");

        using var plain = await client.GetAsync(new Uri("/test-only/items", UriKind.Relative));
        using var claimed = await client.SendAsync(spoofed);
        using var probe = await client.GetAsync(new Uri("/health/live", UriKind.Relative));
        using var secure = await factory.CreateClient(new() { BaseAddress = new Uri("https://localhost") }).GetAsync(new Uri("/test-only/items", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(plain, HttpStatusCode.Forbidden, "forbidden");
        await ProblemAssert.IsProblemAsync(claimed, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
        Assert.Equal(HttpStatusCode.OK, secure.StatusCode);
    }

    private static HttpRequestMessage Preflight(string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "/health/live");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "idempotency-key,content-type");
        return request;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(", ", values)
            : null;
}
