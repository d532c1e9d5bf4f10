using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Canopy.Platform.Spec;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Npgsql;

// The per-request cost of the policy pipeline (issue 6): a trivial authenticated operation with
// and without its rate limit and idempotency key, in one run, on 127.0.0.1 only, bounded in time.
// Target: the pipeline costs less than 25 % of the trivial operation's throughput. Also the
// Insights targets (issue 14): a cached view model and its cold rebuild.
namespace Canopy.Bench.Policies;

internal static class PolicyBench
{
    public static async Task<int> Main()
    {
        var port = int.Parse(Env("CANOPY_TEST_HTTP_PORT"), CultureInfo.InvariantCulture) + 7;
        var seconds = Environment.GetEnvironmentVariable("BENCH_SECONDS") ?? "10";
        await using var host = new BenchHost(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = Connection("CANOPY_PG_APP_USER", "CANOPY_PG_APP_PASSWORD"),
            ["ConnectionStrings:PostgresOwner"] = Connection("CANOPY_PG_OWNER_USER", "CANOPY_PG_OWNER_PASSWORD"),
            ["ConnectionStrings:Redis"] = $"127.0.0.1:{Env("CANOPY_REDIS_TEST_PORT")},password={Env("CANOPY_REDIS_PASSWORD")}",
            ["Migrations:ApplyAtStartup"] = "true",
            ["Runtime:Role"] = "api",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            ["Conformance:Enabled"] = "false",
        });
        host.UseKestrel(port);
        host.StartServer();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        // A signed-in member of a fresh organisation (its standard quota is set far above the load).
        var email = $"bench.{Guid.NewGuid():N}@farm.example";
        using (var signUp = new HttpRequestMessage(HttpMethod.Post, "/api/v1/sign-ups")
        {
            Content = JsonContent.Create(new { organization_name = "Bench Farms", email, password = "bench-password-0042", display_name = "Bench" }),
        })
        {
            signUp.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
            (await client.SendAsync(signUp)).EnsureSuccessStatusCode();
        }

        using var signIn = await client.PostAsJsonAsync("/api/v1/auth/tokens", new { email, password = "bench-password-0042" });
        var token = (await signIn.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;

        // Every scenario runs once unmeasured first, so no figure carries the JIT's warm-up.
        var deviceId = await NewDeviceAsync(client, token);
        var warmUp = Environment.GetEnvironmentVariable("BENCH_WARMUP_SECONDS") ?? "3";
        foreach (var (path, idempotent, method) in new[] { ("/bench/plain", false, "POST"), ("/bench/policied", true, "POST"), ("/bench/noop", false, "GET"), ($"/api/v1/devices/{deviceId}", false, "GET") })
        {
            await WrkAsync(port, path, token, idempotent, warmUp, method);
        }

        Console.WriteLine($"bench: policy pipeline on {Environment.ProcessorCount} cores, wrk -t2 -c64 -d{seconds}s against 127.0.0.1 (same machine), after a {warmUp} s warm-up of each scenario");
        var plain = await WrkAsync(port, "/bench/plain", token, idempotent: false, seconds);
        var policied = await WrkAsync(port, "/bench/policied", token, idempotent: true, seconds);
        var cost = 1 - (policied.RequestsPerSecond / plain.RequestsPerSecond);
        Console.WriteLine($"bench: trivial authenticated POST: {plain.RequestsPerSecond:F0} req/s, p99 {plain.P99}");
        Console.WriteLine($"bench: the same with rate limit + Idempotency-Key: {policied.RequestsPerSecond:F0} req/s, p99 {policied.P99}");
        Console.WriteLine($"bench: the policy pipeline costs {cost.ToString("P0", CultureInfo.InvariantCulture)} of the trivial operation's throughput (target < 25 %)");

        // Device by id (DESIGN.md target): JWT + rate limit + RLS + PostgreSQL, against a no-op GET in the same run.
        var noop = await WrkAsync(port, "/bench/noop", token, idempotent: false, seconds, method: "GET");
        var device = await WrkAsync(port, $"/api/v1/devices/{deviceId}", token, idempotent: false, seconds, method: "GET");
        var ratio = device.RequestsPerSecond / noop.RequestsPerSecond;
        Console.WriteLine($"bench: no-op GET: {noop.RequestsPerSecond:F0} req/s, p99 {noop.P99}");
        Console.WriteLine($"bench: getDevice (JWT + rate limit + RLS + PostgreSQL): {device.RequestsPerSecond:F0} req/s, p99 {device.P99}");
        Console.WriteLine($"bench: getDevice runs at {ratio.ToString("P0", CultureInfo.InvariantCulture)} of the no-op GET (target >= 40 %, p99 <= 50 ms)");

        // Insights (issue 14): a cached view model through the whole pipeline against /health/live,
        // then cold rebuilds of each view over a read model the size of the seeded demo organisation.
        var tenant = TenantOf(token);
        await SeedDemoSizedReadModelAsync(tenant);
        await WrkAsync(port, "/api/v1/summaries/fleet-status", token, idempotent: false, warmUp, method: "GET");
        await WrkAsync(port, "/health/live", token, idempotent: false, warmUp, method: "GET");
        var live = await WrkAsync(port, "/health/live", token, idempotent: false, seconds, method: "GET");
        var cachedView = await WrkAsync(port, "/api/v1/summaries/fleet-status", token, idempotent: false, seconds, method: "GET");
        Console.WriteLine($"bench: /health/live: {live.RequestsPerSecond:F0} req/s, p99 {live.P99}");
        Console.WriteLine($"bench: getFleetStatusSummary, cached (JWT + rate limit + cache hit): {cachedView.RequestsPerSecond:F0} req/s, p99 {cachedView.P99}");
        Console.WriteLine($"bench: the cached view runs at {(cachedView.RequestsPerSecond / live.RequestsPerSecond).ToString("P0", CultureInfo.InvariantCulture)} of /health/live (target >= 50 %, p99 <= 25 ms)");
        var readModels = host.Services.GetRequiredService<Canopy.Insights.Features.ReadModels>();
        var (chartZone, chartFrom) = await ChartedZoneAsync(tenant);
        foreach (var (path, family) in new[]
        {
            ("/api/v1/summaries/fleet-status", Canopy.Insights.Features.ViewFamily.Fleet), ("/api/v1/summaries/alerts", Canopy.Insights.Features.ViewFamily.Alerts),
            ("/api/v1/analytics/top-faulting-zones?period=month", Canopy.Insights.Features.ViewFamily.Faults),
            ($"/api/v1/metrics/trend-chart?zone_id={chartZone}&metric=temperature_c", Canopy.Insights.Features.ViewFamily.Trends),
            ($"/api/v1/metrics/trend-chart?zone_id={chartZone}&metric=temperature_c&from={Uri.EscapeDataString(chartFrom.ToString("O", CultureInfo.InvariantCulture))}",
                Canopy.Insights.Features.ViewFamily.Trends),
        })
        {
            var timings = new List<double>();
            for (var i = 0; i < 200; i++)
            {
                await readModels.ClearAsync(tenant, [family], CancellationToken.None);
                using var request = new HttpRequestMessage(HttpMethod.Get, path);
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
                var started = Stopwatch.GetTimestamp();
                using var response = await client.SendAsync(request);
                response.EnsureSuccessStatusCode();
                timings.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            timings.Sort();
            Console.WriteLine($"bench: cold rebuild of {path} (cleared before each of 200 reads): p50 {timings[99]:F1} ms, p95 {timings[189]:F1} ms (target p95 <= 200 ms)");
        }

        await OwnerBatchAsync(tenant, "DELETE FROM telemetry.rollups WHERE tenant_id = $1");
        return 0;
    }

    /// <summary>
    /// Six months of temperature rollups (5-minute for the last day, hourly for the last 30 days,
    /// daily for 180) for every device of the bench read model, as the rollup worker keeps them
    /// for the seeded demo: the zone whose trend chart is rebuilt, and where its six months begin.
    /// </summary>
    private static async Task<(Guid Zone, DateTimeOffset From)> ChartedZoneAsync(Guid tenant)
    {
        await OwnerBatchAsync(tenant, """
            INSERT INTO telemetry.rollups (tenant_id, device_id, metric, width, bucket_start, min, max, sum, count, last, last_at)
            SELECT $1, d.device_id, m.code, w.width, b, 18 + 6 * sin(extract(epoch FROM b) / 13751) - 1, 18 + 6 * sin(extract(epoch FROM b) / 13751) + 1,
                   (18 + 6 * sin(extract(epoch FROM b) / 13751)) * (w.width / 60), w.width / 60, 18 + 6 * sin(extract(epoch FROM b) / 13751), b
              FROM insights.devices d
             CROSS JOIN telemetry.metrics m
             CROSS JOIN (VALUES (300, interval '1 day'), (3600, interval '30 days'), (86400, interval '180 days')) w (width, span)
             CROSS JOIN LATERAL generate_series(date_bin(make_interval(secs => w.width), now() - w.span, timestamptz '2000-01-01'), now(), make_interval(secs => w.width)) b
             WHERE d.tenant_id = $1 AND m.name = 'temperature_c'
            """);
        await using var connection = await OwnerConnectionAsync();
        await using var zone = new NpgsqlCommand("SELECT zone_id FROM insights.zones WHERE tenant_id = $1 ORDER BY zone_id LIMIT 1", connection) { Parameters = { new() { Value = tenant } } };
        return ((Guid)(await zone.ExecuteScalarAsync())!, DateTimeOffset.UtcNow.AddDays(-180));
    }

    private static async Task<NpgsqlConnection> OwnerConnectionAsync()
    {
        var connection = new NpgsqlConnection(Connection("CANOPY_PG_OWNER_USER", "CANOPY_PG_OWNER_PASSWORD"));
        await connection.OpenAsync();
        await using var scope = new NpgsqlCommand("SET app.scope = 'platform'", connection);
        await scope.ExecuteNonQueryAsync();
        return connection;
    }

    /// <summary>Statements separated by ";\n", run as the owner in platform scope, each given the tenant as $1.</summary>
    private static async Task OwnerBatchAsync(Guid tenant, string statements)
    {
        await using var connection = await OwnerConnectionAsync();
        await using var batch = new NpgsqlBatch(connection);
        foreach (var statement in statements.Split(";\n", StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(statement) { Parameters = { new NpgsqlParameter { Value = tenant } } });
        }

        await batch.ExecuteNonQueryAsync();
    }

    /// <summary>The organisation a member's token names (its tid claim).</summary>
    private static Guid TenantOf(string token)
    {
        var payload = token.Split('.')[1].Replace('-', '+').Replace('_', '/');
        var json = Convert.FromBase64String(payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '='));
        return Guid.Parse(JsonDocument.Parse(json).RootElement.GetProperty("tid").GetString()!);
    }

    /// <summary>
    /// The bench organisation's read model, made the size of the seeded demo organisation (6 farms,
    /// 20 zones, 55 devices) with a month of history (600 alerts, 200 faults), written directly as the
    /// Insights projection would have kept it: the bench host runs no workers.
    /// </summary>
    private static Task SeedDemoSizedReadModelAsync(Guid tenant) => OwnerBatchAsync(tenant, """
        INSERT INTO insights.farms (farm_id, tenant_id, name, version)
        SELECT gen_random_uuid(), $1, 'Demo farm ' || f, 1 FROM generate_series(1, 6) f;
        INSERT INTO insights.zones (zone_id, tenant_id, farm_id, name, version)
        SELECT gen_random_uuid(), $1, f.farm_id, f.name || ' zone ' || z, 1
          FROM insights.farms f CROSS JOIN generate_series(1, 4) z WHERE f.tenant_id = $1 AND z <= 3 + (abs(hashtext(f.name)) % 2);
        INSERT INTO insights.devices (device_id, tenant_id, farm_id, zone_id, status, battery_low, last_seen_at, version)
        SELECT gen_random_uuid(), $1, z.farm_id, z.zone_id, (ARRAY['ACTIVE','ACTIVE','ACTIVE','OFFLINE','FAULT'])[1 + d % 5], d % 9 = 0, now() - d * interval '1 minute', 1
          FROM (SELECT zone_id, farm_id, row_number() OVER () AS n FROM insights.zones WHERE tenant_id = $1) z
         CROSS JOIN generate_series(1, 3) d;
        INSERT INTO insights.alerts (alert_id, tenant_id, severity, status, opened_at, acknowledged_at, resolved_at, version)
        SELECT gen_random_uuid(), $1, (ARRAY['info','warning','critical'])[1 + a % 3], CASE WHEN a % 20 = 0 THEN 'OPEN' ELSE 'RESOLVED' END,
               now() - a * interval '70 minutes', now() - a * interval '70 minutes' + interval '6 minutes',
               CASE WHEN a % 20 = 0 THEN NULL ELSE now() - a * interval '70 minutes' + interval '50 minutes' END, 3
          FROM generate_series(1, 600) a;
        INSERT INTO insights.faults (event_id, tenant_id, device_id, zone_id, code, reported_at)
        SELECT gen_random_uuid(), $1, d.device_id, d.zone_id, 'sensor_failure', now() - f * interval '3 hours'
          FROM generate_series(1, 200) f
          JOIN LATERAL (SELECT device_id, zone_id FROM insights.devices WHERE tenant_id = $1 ORDER BY md5(device_id::text || f) LIMIT 1) d ON true
        """);

    private static string Env(string name) =>
        Environment.GetEnvironmentVariable(name) ?? throw new InvalidOperationException($"{name} is not set: run ./build.sh --target=Bench");

    private static string Connection(string user, string password) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = int.Parse(Env("CANOPY_PG_PORT"), CultureInfo.InvariantCulture),
        Database = Env("CANOPY_PG_TEST_DATABASE"),
        Username = Env(user),
        Password = Env(password),
    }.ConnectionString;

    /// <summary>A farm, a zone and a registered device of the bench organisation, made through the API.</summary>
    private static async Task<Guid> NewDeviceAsync(HttpClient client, string token)
    {
        async Task<JsonElement> PostAsync(string path, object body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
            using var response = await client.SendAsync(request);
            return await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>();
        }

        var farm = await PostAsync("/api/v1/farms", new { name = $"Bench {Guid.NewGuid():N}"[..20], latitude = 52.1, longitude = 5.1, time_zone = "Europe/Amsterdam" });
        var zone = await PostAsync($"/api/v1/farms/{farm.GetProperty("id").GetGuid()}/zones", new { name = "Bench house", kind = "greenhouse" });
        var device = await PostAsync("/api/v1/devices", new { serial_number = $"BENCH-{Guid.NewGuid():N}"[..20], model = "sensirion-scd41", zone_id = zone.GetProperty("id").GetGuid() });
        return device.GetProperty("device").GetProperty("id").GetGuid();
    }

    private static async Task<(double RequestsPerSecond, string P99)> WrkAsync(int port, string path, string token, bool idempotent, string seconds, string method = "POST")
    {
        // A fresh Idempotency-Key per request: each is a first request, the expensive case.
        var script = Path.Combine(Path.GetTempPath(), $"canopy-bench-{Guid.NewGuid():N}.lua");
        // Each wrk thread numbers its own requests under its own prefix.
        var key = idempotent ? "headers[\"Idempotency-Key\"] = prefix .. \"-\" .. counter" : "";
        await File.WriteAllTextAsync(script, $$"""
            local threads = 0
            function setup(thread)
              threads = threads + 1
              thread:set("tid", threads)
            end
            function init(args)
              prefix = tostring(tid) .. "-" .. tostring(os.time())
              counter = 0
            end
            request = function()
              counter = counter + 1
              local headers = { ["Authorization"] = "Bearer {{token}}", ["Content-Type"] = "application/json" }
              {{key}}
              return wrk.format("{{method}}", "{{path}}", headers, {{(method == "GET" ? "nil" : "\"{}\"")}})
            end
            """);
        var start = new ProcessStartInfo("wrk", $"-t2 -c64 -d{seconds}s --latency -s {script} http://127.0.0.1:{port}") { RedirectStandardOutput = true };
        using var wrk = Process.Start(start)!;
        var output = await wrk.StandardOutput.ReadToEndAsync();
        await wrk.WaitForExitAsync();
        File.Delete(script);
        var refused = Regex.Match(output, @"Non-2xx or 3xx responses: (\d+)");
        if (refused.Success)
        {
            throw new InvalidOperationException($"{path}: {refused.Groups[1].Value} requests were refused; the benchmark measures successful requests only.");
        }

        var rate = double.Parse(Regex.Match(output, @"Requests/sec:\s+([\d.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
        return (rate, Regex.Match(output, @"\n\s+99%\s+(\S+)").Groups[1].Value);
    }
}

/// <summary>The real application, listening on 127.0.0.1, with two bench operations described by a spec slice.</summary>
internal sealed class BenchHost(IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<Program>
{
    // The real spec's operations keep their policies; the two bench operations differ only in theirs.
    private static readonly string Slice = """
          /bench/plain:
            post:
              operationId: benchPlain
              x-roles: any
          /bench/noop:
            get:
              operationId: benchNoop
              x-roles: public
          /bench/policied:
            post:
              operationId: benchPolicied
              x-roles: any
              x-rate-limit-tier: standard
              x-idempotency: required
        """;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Test");
        var all = new Dictionary<string, string?>(settings)
        {
            ["RateLimits:Tiers:standard:Limit"] = "10000000",
            ["RateLimits:Tiers:standard:WindowSeconds"] = "60",
            ["RateLimits:Tiers:reporting:Limit"] = "10000000",
            ["RateLimits:Tiers:reporting:WindowSeconds"] = "60",
        };
        builder.ConfigureAppConfiguration((_, configuration) => configuration.AddInMemoryCollection(all));
        builder.ConfigureTestServices(services =>
        {
            services.AddControllers().AddApplicationPart(typeof(BenchController).Assembly);
            using var stream = typeof(Program).Assembly.GetManifestResourceStream("Canopy.Api.openapi.yaml")!;
            var spec = new StreamReader(stream).ReadToEnd();
            services.AddSingleton(OperationCatalog.Parse(spec.Replace("\npaths:\n", "\npaths:\n" + Slice + "\n", StringComparison.Ordinal)));
        });
    }
}

/// <summary>Trivial operations: all the cost is the pipeline's.</summary>
[ApiController]
[Route("bench")]
public sealed class BenchController : ControllerBase
{
    [HttpPost("plain", Name = "benchPlain")]
    public IActionResult Plain() => Ok(new { ok = true });

    [HttpGet("noop", Name = "benchNoop")]
    public IActionResult Noop() => Ok(new { ok = true });

    [HttpPost("policied", Name = "benchPolicied")]
    public IActionResult Policied() => Ok(new { ok = true });
}
