using System.Net;
using System.Text.Json;
using Canopy.Api.Tests.Infrastructure;
using Npgsql;

namespace Canopy.Api.Tests.Platform;

public sealed class ReadinessTests
{
    [Fact]
    public async Task Given_postgres_and_redis_up_Then_readiness_passes_with_every_check_named()
    {
        await using var factory = new CanopyApiFactory();
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal("application/health+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("pass", body.RootElement.GetProperty("status").GetString());
        var checks = body.RootElement.GetProperty("checks");
        foreach (var name in new[] { "postgres:responseTime", "redis:responseTime", "postgres:connections" })
        {
            var check = checks.GetProperty(name)[0];
            Assert.Equal("pass", check.GetProperty("status").GetString());
            Assert.True(check.GetProperty("observedValue").GetDouble() >= 0);
        }

        Assert.Equal("ms", checks.GetProperty("postgres:responseTime")[0].GetProperty("observedUnit").GetString());
        Assert.Equal("connections", checks.GetProperty("postgres:connections")[0].GetProperty("observedUnit").GetString());
    }

    [Fact]
    public async Task Given_redis_stops_Then_readiness_answers_503_naming_redis_and_recovers_when_it_returns()
    {
        using var redis = new DisposableRedis();
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = redis.ConnectionString,
        });
        using var client = factory.CreateClient();
        using (var before = await client.GetAsync(new Uri("/health/ready", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        redis.Stop();
        using (var during = await client.GetAsync(new Uri("/health/ready", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, during.StatusCode);
            Assert.Equal("application/health+json", during.Content.Headers.ContentType?.MediaType);
            using var body = JsonDocument.Parse(await during.Content.ReadAsStringAsync());
            Assert.Equal("fail", body.RootElement.GetProperty("status").GetString());
            var redisCheck = body.RootElement.GetProperty("checks").GetProperty("redis:responseTime")[0];
            Assert.Equal("fail", redisCheck.GetProperty("status").GetString());
            Assert.Contains("Redis", redisCheck.GetProperty("output").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain("127.0.0.1", body.RootElement.GetRawText(), StringComparison.Ordinal);
            var postgresCheck = body.RootElement.GetProperty("checks").GetProperty("postgres:responseTime")[0];
            Assert.Equal("pass", postgresCheck.GetProperty("status").GetString());
        }

        redis.Start();
        await AssertEventuallyReadyAsync(client);
    }

    [Fact]
    public async Task Given_postgres_unreachable_Then_readiness_answers_503_naming_postgres_without_revealing_the_host()
    {
        var closedPort = FreePort.Next();
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = $"Host=127.0.0.1;Port={closedPort};Database=canopy;Username=nobody;Password=wrong-secret",
        });
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var raw = await response.Content.ReadAsStringAsync();
        using var body = JsonDocument.Parse(raw);
        var postgres = body.RootElement.GetProperty("checks").GetProperty("postgres:responseTime")[0];
        Assert.Equal("fail", postgres.GetProperty("status").GetString());
        Assert.Equal("pass", body.RootElement.GetProperty("checks").GetProperty("redis:responseTime")[0].GetProperty("status").GetString());
        Assert.DoesNotContain(closedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), raw, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-secret", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("nobody", raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_every_pool_connection_is_held_Then_readiness_fails_on_the_pool_and_the_round_trip()
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["Postgres:MaxPoolSize"] = "1",
            ["Postgres:ConnectionTimeoutSeconds"] = "2",
            ["Health:CheckTimeoutMilliseconds"] = "500",
        });
        using var client = factory.CreateClient();
        var dataSource = (NpgsqlDataSource)factory.Services.GetService(typeof(NpgsqlDataSource))!;
        await using (var held = await dataSource.OpenConnectionAsync())
        {
            using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var checks = body.RootElement.GetProperty("checks");
            var pool = checks.GetProperty("postgres:connections")[0];
            Assert.Equal("fail", pool.GetProperty("status").GetString());
            Assert.Equal(1, pool.GetProperty("observedValue").GetDouble());
            Assert.Equal("fail", checks.GetProperty("postgres:responseTime")[0].GetProperty("status").GetString());
        }

        await AssertEventuallyReadyAsync(client);
    }

    [Fact]
    public async Task Given_half_the_pool_in_use_and_a_half_warn_ratio_Then_readiness_warns_but_stays_200()
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["Postgres:MaxPoolSize"] = "4",
            ["Health:PoolWarnRatio"] = "0.5",
        });
        using var client = factory.CreateClient();
        var dataSource = (NpgsqlDataSource)factory.Services.GetService(typeof(NpgsqlDataSource))!;
        await using var first = await dataSource.OpenConnectionAsync();
        await using var second = await dataSource.OpenConnectionAsync();

        using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("warn", body.RootElement.GetProperty("status").GetString());
        var pool = body.RootElement.GetProperty("checks").GetProperty("postgres:connections")[0];
        Assert.Equal("warn", pool.GetProperty("status").GetString());
        // The two held here; on a loaded machine the check's own ping may not be back in the pool yet.
        Assert.InRange(pool.GetProperty("observedValue").GetDouble(), 2, 3);
    }

    [Fact]
    public async Task Given_concurrent_readiness_requests_Then_each_answers_on_its_own()
    {
        await using var factory = new CanopyApiFactory();
        using var client = factory.CreateClient();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20)
            .Select(_ => client.GetAsync(new Uri("/health/ready", UriKind.Relative))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Given_a_burst_of_probes_within_the_cache_window_Then_one_check_serves_them_all()
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { ["Health:CacheMilliseconds"] = "60000" });
        using var client = factory.CreateClient();

        var responses = await Task.WhenAll(Enumerable.Range(0, 25)
            .Select(_ => client.GetAsync(new Uri("/health/ready", UriKind.Relative))));
        var bodies = await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync()));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        // Each check stamps its results with its own time to the 100 ns: one body means one check.
        Assert.Single(bodies.Distinct());
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    private static async Task AssertEventuallyReadyAsync(HttpClient client)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        HttpStatusCode last;
        do
        {
            using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));
            last = response.StatusCode;
            if (last == HttpStatusCode.OK)
            {
                return;
            }

            await Task.Delay(200);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"Readiness did not recover; last status {(int)last}.");
    }

    [Fact]
    public async Task Given_the_replica_up_Then_readiness_reports_its_round_trip_and_lag_and_given_it_unreachable_readiness_only_warns()
    {
        await using var healthy = new CanopyApiFactory();
        await using var orphaned = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:PostgresReplica"] = new NpgsqlConnectionStringBuilder(TestServers.PostgresReplicaConnectionString) { Port = 1, Timeout = 1 }.ConnectionString,
        });

        var up = await ReadinessAsync(healthy);
        var down = await ReadinessAsync(orphaned);

        Assert.Equal((HttpStatusCode.OK, "pass"), (up.Status, up.Body.GetProperty("status").GetString()));
        Assert.Equal("pass", up.Body.GetProperty("checks").GetProperty("postgres-replica:responseTime")[0].GetProperty("status").GetString());
        var lag = up.Body.GetProperty("checks").GetProperty("postgres-replica:lag")[0];
        Assert.Equal(("pass", "s"), (lag.GetProperty("status").GetString(), lag.GetProperty("observedUnit").GetString()));
        Assert.Equal((HttpStatusCode.OK, "warn"), (down.Status, down.Body.GetProperty("status").GetString()));
        var unreachable = down.Body.GetProperty("checks").GetProperty("postgres-replica:responseTime")[0];
        Assert.Equal("warn", unreachable.GetProperty("status").GetString());
        Assert.Contains("fall back to the primary", unreachable.GetProperty("output").GetString(), StringComparison.Ordinal);
        Assert.False(down.Body.GetProperty("checks").TryGetProperty("postgres-replica:lag", out _));
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> ReadinessAsync(CanopyApiFactory factory)
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }
}
