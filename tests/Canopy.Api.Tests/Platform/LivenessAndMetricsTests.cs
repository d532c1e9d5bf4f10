using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Platform;

public sealed class LivenessAndMetricsTests
{
    [Fact]
    public async Task Given_every_dependency_down_Then_liveness_still_passes()
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = $"Host=127.0.0.1;Port={FreePort.Next()};Database=x;Username=x;Password=x",
            ["ConnectionStrings:Redis"] = TestServers.RedisAt(FreePort.Next()),
        });
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("/health/live", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/health+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("""{"status":"pass"}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Given_a_caller_outside_the_allowed_networks_without_token_Then_metrics_answers_403_problem()
    {
        // The in-memory test server has no remote address, so no network rule can admit it.
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["Metrics:ScrapeToken"] = "scrape-secret-for-tests",
        });
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "scrape-secret-for-tests-but-wrong");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("https://canopy.dev/problems/forbidden", body.RootElement.GetProperty("type").GetString());
        Assert.Equal(403, body.RootElement.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Given_the_scrape_token_Then_metrics_answers_the_prometheus_exposition()
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["Metrics:ScrapeToken"] = "scrape-secret-for-tests",
        });
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "scrape-secret-for-tests");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE canopy_build_info gauge", text, StringComparison.Ordinal);
        Assert.Contains("canopy_build_info{version=\"1.0.0\"} 1", text, StringComparison.Ordinal);
        Assert.Contains($"npgsql_db_client_connection_max{{db_client_connection_pool_name=\"{factory.PoolName}\"}} 50", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_an_unknown_route_Then_the_answer_is_a_404_problem_with_every_member()
    {
        await using var factory = new CanopyApiFactory();
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/no-such-thing");
        request.Headers.Accept.ParseAdd("text/html");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = body.RootElement;
        Assert.Equal("https://canopy.dev/problems/not-found", root.GetProperty("type").GetString());
        Assert.Equal(404, root.GetProperty("status").GetInt32());
        Assert.Equal("/api/v1/no-such-thing", root.GetProperty("instance").GetString());
        foreach (var member in new[] { "title", "detail", "human_readable_cause", "suggested_action" })
        {
            Assert.False(string.IsNullOrWhiteSpace(root.GetProperty(member).GetString()), member);
        }

        Assert.Matches("^[0-9a-f]{32}$", root.GetProperty("trace_id").GetString());
    }

    [Fact]
    public async Task Given_the_service_Then_it_serves_the_spec_it_was_built_from()
    {
        await using var factory = new CanopyApiFactory();
        using var client = factory.CreateClient();

        var served = await client.GetStringAsync(new Uri("/openapi/v1.yaml", UriKind.Relative));

        var committed = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "openapi", "api.yaml"));
        Assert.Equal(committed, served);
    }
}
