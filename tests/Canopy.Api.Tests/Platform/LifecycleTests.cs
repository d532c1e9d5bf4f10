using System.Diagnostics;
using System.Net;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Platform;

[Trait("Category", "Process")]
[Collection(Canopy.Api.Tests.Insights.SerialTests.Name)]
public sealed class LifecycleTests
{
    [Fact]
    public async Task Given_a_request_in_flight_When_sigterm_arrives_Then_it_completes_new_connections_are_refused_and_the_process_exits_0()
    {
        using var redis = new DisposableRedis();
        await using var service = CanopyProcess.Start(new Dictionary<string, string>
        {
            ["ConnectionStrings__Redis"] = redis.ConnectionString,
            ["Health__CheckTimeoutMilliseconds"] = "10000",
            ["Health__SlowResponseMilliseconds"] = "10000",
            ["Health__CacheMilliseconds"] = "0",
            ["Http__DrainSeconds"] = "15",
            // Every Redis call is bounded by this; the paused Redis must hold the request, not fail it.
            ["Redis__TimeoutMilliseconds"] = "10000",
        });
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await service.WaitUntilAliveAsync(client);

        // Redis holds every command for 3 s: readiness is a real request that stays in flight.
        RedisCli(redis.Port, "CLIENT", "PAUSE", "3000", "ALL");
        var started = Stopwatch.StartNew();
        var inFlight = client.GetAsync(new Uri(service.BaseAddress, "/health/ready"));
        await Task.Delay(700);
        service.Terminate();
        await Task.Delay(500);

        var refused = await Assert.ThrowsAnyAsync<HttpRequestException>(() =>
            new HttpClient().GetAsync(new Uri(service.BaseAddress, "/health/live")));
        using var response = await inFlight;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(started.Elapsed >= TimeSpan.FromSeconds(2.5), $"the request ended after {started.Elapsed}");
        Assert.True(await service.WaitForExitAsync(TimeSpan.FromSeconds(20)), "the process did not exit");
        Assert.Equal(0, service.ExitCode);
        Assert.NotNull(refused);
        Assert.Contains("Application is shutting down", service.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_missing_required_setting_Then_the_process_exits_1_naming_it()
    {
        await using var service = CanopyProcess.Start(new Dictionary<string, string> { ["Cursors__Key"] = "" });

        Assert.True(await service.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the process kept running");
        Assert.Equal(1, service.ExitCode);
        var reason = service.Output.Split('\n').Single(l => l.StartsWith("Canopy cannot start:", StringComparison.Ordinal));
        Assert.Contains("Cursors__Key is required", reason, StringComparison.Ordinal);
        // A clean refusal, not a crash dump (the host's own log line may carry the details).
        Assert.DoesNotContain("Unhandled exception", service.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_an_otlp_endpoint_Then_spans_of_requests_are_exported_to_it()
    {
        var port = FreePort.Next();
        using var collector = new HttpListener();
        collector.Prefixes.Add($"http://127.0.0.1:{port}/");
        collector.Start();
        await using var service = CanopyProcess.Start(new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{port}",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        });
        using var client = new HttpClient();
        await service.WaitUntilAliveAsync(client);
        (await client.GetAsync(new Uri(service.BaseAddress, "/health/ready"))).Dispose();

        var received = collector.GetContextAsync();
        Assert.True(await Task.WhenAny(received, Task.Delay(TimeSpan.FromSeconds(20))) == received, "no OTLP export arrived");
        var export = await received;
        Assert.Equal("POST", export.Request.HttpMethod);
        Assert.Equal("/v1/traces", export.Request.Url!.AbsolutePath);
        Assert.Equal("application/x-protobuf", export.Request.ContentType);
        Assert.True(export.Request.ContentLength64 > 0);
        export.Response.StatusCode = 200;
        export.Response.Close();
    }

    [Fact]
    public async Task Given_the_worker_role_Then_the_process_serves_health_and_metrics_only()
    {
        await using var service = CanopyProcess.Start(new Dictionary<string, string> { ["Runtime__Role"] = "worker" });
        using var client = new HttpClient();
        await service.WaitUntilAliveAsync(client);

        using var ready = await client.GetAsync(new Uri(service.BaseAddress, "/health/ready"));
        using var api = await client.GetAsync(new Uri(service.BaseAddress, "/openapi/v1.yaml"));

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
        Assert.Equal("application/problem+json", api.Content.Headers.ContentType?.MediaType);
    }

    private static void RedisCli(int port, params string[] args)
    {
        var start = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-h", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture) }.Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["REDISCLI_AUTH"] = TestServers.RedisPassword;
        using var process = Process.Start(start)!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }
}
