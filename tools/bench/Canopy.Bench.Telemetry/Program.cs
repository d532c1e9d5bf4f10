using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using NpgsqlTypes;

// Telemetry benchmarks (issue 13), on 127.0.0.1 only, bounded in count and time, in one run:
// 1. ingestion of 500-reading batches over HTTP with device tokens, against raw single-stream
//    binary COPY into the same table: target >= 0.6 of COPY's readings/s, p99 per batch <= 200 ms;
//    beside them, the ways of writing a batch the ingestion path could use (plain and ON CONFLICT unnest, staging COPY);
// 2. the live stream's fan-out: 1,000 subscribers, p99 ingest-to-event <= 250 ms;
// 3. a range query over six months of 5-minute rollups: p95 < 50 ms.
namespace Canopy.Bench.Telemetry;

internal static class TelemetryBench
{
    private const int BatchSize = 500;

    public static async Task<int> Main()
    {
        var port = int.Parse(Env("CANOPY_TEST_HTTP_PORT"), CultureInfo.InvariantCulture) + 8;
        var seconds = double.Parse(Environment.GetEnvironmentVariable("BENCH_SECONDS") ?? "20", CultureInfo.InvariantCulture);
        var senders = int.Parse(Environment.GetEnvironmentVariable("BENCH_SENDERS") ?? "8", CultureInfo.InvariantCulture);
        var subscribers = int.Parse(Environment.GetEnvironmentVariable("BENCH_SUBSCRIBERS") ?? "1000", CultureInfo.InvariantCulture);
        await using var host = new BenchHost(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = Connection("CANOPY_PG_APP_USER", "CANOPY_PG_APP_PASSWORD"),
            ["ConnectionStrings:PostgresOwner"] = Connection("CANOPY_PG_OWNER_USER", "CANOPY_PG_OWNER_PASSWORD"),
            ["ConnectionStrings:Redis"] = $"127.0.0.1:{Env("CANOPY_REDIS_TEST_PORT")},password={Env("CANOPY_REDIS_PASSWORD")}",
            ["Migrations:ApplyAtStartup"] = "true",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            ["Conformance:Enabled"] = "false",
            ["Telemetry:MaxConcurrentBatches"] = "32",
            ["Telemetry:StreamClientBuffer"] = "1024",
        });
        host.UseKestrel(port);
        host.StartServer();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var grower = await Grower.CreateAsync(client);
        Console.WriteLine($"bench: telemetry on {Environment.ProcessorCount} cores, load generated in-process against 127.0.0.1 (same machine)");

        // 1. Ingestion against COPY, each measured after an unmeasured warm-up.
        var devices = new List<(Guid Id, string Token)>();
        for (var i = 0; i < senders; i++)
        {
            devices.Add(await grower.DeviceAsync());
        }

        // The COPY ceiling depends on how full the table already is (an empty partition takes rows fastest): say so.
        Console.WriteLine($"bench: telemetry.readings holds about {await ReadingsEstimateAsync():N0} rows before the run");
        var timeline = new Timeline(DateTimeOffset.UtcNow.AddDays(-30));
        await IngestOverHttpAsync(client, devices, timeline, TimeSpan.FromSeconds(5));
        var http = await IngestOverHttpAsync(client, devices, timeline, TimeSpan.FromSeconds(seconds));
        await RawCopyAsync(grower.TenantId, (await grower.DeviceAsync()).Id, 100_000);
        var copyDevice = (await grower.DeviceAsync()).Id;
        var copy = await RawCopyAsync(grower.TenantId, copyDevice, 1_000_000);
        var statement = await StatementCeilingAsync(grower.TenantId, senders, timeline, TimeSpan.FromSeconds(seconds));
        Console.WriteLine($"bench: HTTP ingestion, {senders} devices sending {BatchSize}-reading batches for {seconds:F0} s: {http.ReadingsPerSecond:F0} readings/s "
            + $"({http.Batches} batches), per batch p50 {http.P50:F1} ms, p99 {http.P99:F1} ms");
        Console.WriteLine($"bench: raw single-stream binary COPY into telemetry.readings: {copy:F0} rows/s");
        Console.WriteLine($"bench: HTTP ingestion runs at {(http.ReadingsPerSecond / copy).ToString("P0", CultureInfo.InvariantCulture)} of raw COPY (target >= 60 %, p99 per batch <= 200 ms)");
        Console.WriteLine($"bench: ingestion's own INSERT statement from {senders} connections (tenant set, RLS applied, no HTTP): {statement:F0} readings/s; "
            + $"HTTP ingestion runs at {(http.ReadingsPerSecond / statement).ToString("P0", CultureInfo.InvariantCulture)} of it");

        var (plain, unnest, staged) = await WritePathsAsync(grower.TenantId, (await grower.DeviceAsync()).Id, (await grower.DeviceAsync()).Id, 200);
        Console.WriteLine($"bench: one connection writing {BatchSize}-reading batches: unnest INSERT of new readings {plain:F0} rows/s; unnest INSERT … ON CONFLICT DO NOTHING {unnest:F0} rows/s; "
            + $"staging table + binary COPY + INSERT … ON CONFLICT {staged:F0} rows/s");

        // 2. Fan-out.
        var fanOut = await FanOutAsync(client, grower, subscribers, 40);
        Console.WriteLine($"bench: live stream fan-out to {subscribers} subscribers of one zone, {fanOut.Deliveries} events: ingest-to-event p50 {fanOut.P50:F0} ms, p99 {fanOut.P99:F0} ms (target p99 <= 250 ms)");

        // 3. Six months of 5-minute rollups.
        var range = await RangeQueryAsync(client, grower, 200);
        Console.WriteLine($"bench: listRollups bucket=5m over 6 months ({range.Rows:N0} rollups), first and middle pages of 1,000: p50 {range.P50:F1} ms, p95 {range.P95:F1} ms (target p95 < 50 ms)");

        // The test database serves every run: the bench's own readings go, so the next run starts where this one did.
        var removed = await RemoveOwnReadingsAsync(grower.TenantId);
        Console.WriteLine($"bench: removed the run's {removed:N0} readings and their rollups, and vacuumed their tables");
        return 0;
    }

    private static async Task<long> ReadingsEstimateAsync()
    {
        await using var connection = new NpgsqlConnection(Connection("CANOPY_PG_OWNER_USER", "CANOPY_PG_OWNER_PASSWORD"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT coalesce(sum(s.n_live_tup), 0)::bigint FROM pg_inherits i JOIN pg_stat_user_tables s ON s.relid = i.inhrelid WHERE i.inhparent = 'telemetry.readings'::regclass",
            connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<int> RemoveOwnReadingsAsync(Guid tenantId)
    {
        await using var connection = new NpgsqlConnection(Connection("CANOPY_PG_OWNER_USER", "CANOPY_PG_OWNER_PASSWORD"));
        await connection.OpenAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await using (var scope = new NpgsqlCommand("SELECT set_config('app.scope', 'platform', true)", connection, tx))
        {
            await scope.ExecuteScalarAsync();
        }

        await using var command = new NpgsqlCommand("""
            WITH backlog AS (DELETE FROM telemetry.rollup_backlog WHERE tenant_id = $1), rollups AS (DELETE FROM telemetry.rollups WHERE tenant_id = $1)
            DELETE FROM telemetry.readings WHERE tenant_id = $1
            """, connection, tx) { Parameters = { new() { Value = tenantId } }, CommandTimeout = 600 };
        var removed = await command.ExecuteNonQueryAsync();
        await tx.CommitAsync();

        // Millions of dead rows left to autovacuum slow the next run's writes into the same
        // partition (and vacuum itself would run during it): the bench clears up after itself.
        await using var vacuum = new NpgsqlCommand("VACUUM telemetry.readings, telemetry.rollups, telemetry.rollup_backlog", connection) { CommandTimeout = 600 };
        await vacuum.ExecuteNonQueryAsync();
        return removed;
    }

    /// <summary>
    /// A batch as a device sends it, written straight to UTF-8: the load generator shares the
    /// service's two cores, so it spends as little of them as a device's firmware would.
    /// </summary>
    private static ByteArrayContent BatchBody(DateTimeOffset from)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(BatchSize * 80);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartArray("readings");
            for (var i = 0; i < BatchSize; i++)
            {
                json.WriteStartObject();
                json.WriteString("metric", "temperature_c");
                json.WriteNumber("value", 18 + (i % 50 / 10.0));
                json.WriteString("recorded_at", from.AddSeconds(i));
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        var content = new ByteArrayContent(buffer.WrittenSpan.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }

    private static async Task<(double ReadingsPerSecond, int Batches, double P50, double P99)> IngestOverHttpAsync(
        HttpClient client, List<(Guid Id, string Token)> devices, Timeline timeline, TimeSpan duration)
    {
        var latencies = new ConcurrentBag<double>();
        var readings = 0L;
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(devices.Select(device => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var from = timeline.Take(device.Id, BatchSize);
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/telemetry/batches") { Content = BatchBody(from) };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", device.Token);
                var sent = Stopwatch.GetTimestamp();
                using var response = await client.SendAsync(request);
                response.EnsureSuccessStatusCode();
                latencies.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                Interlocked.Add(ref readings, BatchSize);
            }
        })));
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var sorted = latencies.Order().ToList();
        return (readings / elapsed, sorted.Count, Percentile(sorted, 0.50), Percentile(sorted, 0.99));
    }

    /// <summary>
    /// The ceiling: one stream of binary COPY straight into the partitioned, indexed table. COPY
    /// cannot write a table under row-level security, so for this one measurement the owner lifts
    /// FORCE on the table and its partitions (the owner then bypasses the policy) and restores it.
    /// </summary>
    private static async Task<double> RawCopyAsync(Guid tenantId, Guid deviceId, int rows)
    {
        await using var connection = new NpgsqlConnection(Connection("CANOPY_PG_OWNER_USER", "CANOPY_PG_OWNER_PASSWORD"));
        await connection.OpenAsync();
        await ForceAsync(connection, force: false);
        try
        {
            var from = DateTimeOffset.UtcNow.AddDays(-30);
            var started = Stopwatch.GetTimestamp();
            await using (var import = await connection.BeginBinaryImportAsync("COPY telemetry.readings (tenant_id, device_id, metric, recorded_at, value) FROM STDIN (FORMAT BINARY)"))
            {
                for (var i = 0; i < rows; i++)
                {
                    await import.StartRowAsync();
                    await import.WriteAsync(tenantId, NpgsqlDbType.Uuid);
                    await import.WriteAsync(deviceId, NpgsqlDbType.Uuid);
                    await import.WriteAsync((short)1, NpgsqlDbType.Smallint);
                    await import.WriteAsync(from.AddSeconds(i), NpgsqlDbType.TimestampTz);
                    await import.WriteAsync(18 + (i % 50 / 10.0), NpgsqlDbType.Double);
                }

                await import.CompleteAsync();
            }

            return rows / Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
        finally
        {
            await ForceAsync(connection, force: true);
        }
    }

    private static async Task ForceAsync(NpgsqlConnection connection, bool force)
    {
        await using var command = new NpgsqlCommand($"""
            DO $$
            DECLARE t regclass;
            BEGIN
                FOR t IN SELECT 'telemetry.readings'::regclass UNION ALL SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'telemetry.readings'::regclass LOOP
                    EXECUTE format('ALTER TABLE %s {(force ? "" : "NO ")}FORCE ROW LEVEL SECURITY', t);
                END LOOP;
            END $$
            """, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The ingestion path's statement against the staging alternative, on one app-role connection each, tenant-bound.</summary>
    /// <summary>
    /// The database's ceiling for ingestion's own write: its INSERT statement (readings and their
    /// 5-minute buckets, as the app role under RLS), 500 readings a transaction, from
    /// <paramref name="connections"/> connections at once, each for a device of its own, for <paramref name="duration"/>.
    /// </summary>
    private static async Task<double> StatementCeilingAsync(Guid tenantId, int connections, Timeline timeline, TimeSpan duration)
    {
        await using var data = NpgsqlDataSource.Create(Connection("CANOPY_PG_APP_USER", "CANOPY_PG_APP_PASSWORD"));
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        var written = await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            var device = Guid.CreateVersion7();
            await using var connection = await data.OpenConnectionAsync();
            var rows = 0L;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                // The batch the HTTP senders send: temperatures a second apart, and the 5-minute buckets they touch.
                var from = timeline.Take(device, BatchSize);
                var times = Enumerable.Range(0, BatchSize).Select(i => from.AddSeconds(i)).ToArray();
                var codes = Enumerable.Repeat((short)1, BatchSize).ToArray();
                var buckets = times.Select(t => new DateTimeOffset(t.UtcTicks / (TimeSpan.TicksPerMinute * 5) * (TimeSpan.TicksPerMinute * 5), TimeSpan.Zero)).Distinct().ToArray();
                await using var tx = await connection.BeginTransactionAsync();
                await using (var tenant = new NpgsqlCommand("SELECT set_config('app.tenant_id', $1, true)", connection, tx) { Parameters = { new() { Value = tenantId.ToString() } } })
                {
                    await tenant.ExecuteScalarAsync();
                }

                await using (var insert = new NpgsqlCommand(Canopy.Telemetry.Features.Ingestion.InsertNew, connection, tx))
                {
                    foreach (var value in new object[]
                    {
                        tenantId, device, codes, times, Enumerable.Range(0, BatchSize).Select(i => 18 + (i % 50 / 10.0)).ToArray(),
                        Enumerable.Repeat((short)1, buckets.Length).ToArray(), buckets,
                    })
                    {
                        insert.Parameters.Add(new() { Value = value });
                    }

                    rows += await insert.ExecuteNonQueryAsync();
                }

                await tx.CommitAsync();
            }

            return rows;
        }));
        return written.Sum() / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    private static async Task<(double Plain, double Unnest, double Staged)> WritePathsAsync(Guid tenantId, Guid unnestDevice, Guid stagedDevice, int batches)
    {
        await using var data = NpgsqlDataSource.Create(Connection("CANOPY_PG_APP_USER", "CANOPY_PG_APP_PASSWORD"));
        var from = DateTimeOffset.UtcNow.AddDays(-20);
        short[] metrics = Enumerable.Repeat((short)1, BatchSize).ToArray();
        double[] values = Enumerable.Range(0, BatchSize).Select(i => 18 + (i % 50 / 10.0)).ToArray();
        DateTimeOffset[] Times(int batch) => Enumerable.Range(0, BatchSize).Select(i => from.AddSeconds((batch * BatchSize) + i)).ToArray();

        async Task<double> MeasureAsync(Func<NpgsqlConnection, int, Task> write)
        {
            var started = Stopwatch.GetTimestamp();
            for (var batch = 0; batch < batches; batch++)
            {
                await using var connection = await data.OpenConnectionAsync();
                await using var tx = await connection.BeginTransactionAsync();
                await using (var tenant = new NpgsqlCommand("SELECT set_config('app.tenant_id', $1, true)", connection, tx) { Parameters = { new() { Value = tenantId.ToString() } } })
                {
                    await tenant.ExecuteScalarAsync();
                }

                await write(connection, batch);
                await tx.CommitAsync();
            }

            return batches * BatchSize / Stopwatch.GetElapsedTime(started).TotalSeconds;
        }

        Func<NpgsqlConnection, int, Task> Unnest(Guid device, int offset, string onConflict) => async (connection, batch) =>
        {
            await using var insert = new NpgsqlCommand($"""
                INSERT INTO telemetry.readings (tenant_id, device_id, metric, recorded_at, value)
                SELECT $1, $2, m, t, v FROM unnest($3::smallint[], $4::timestamptz[], $5::float8[]) AS r(m, t, v)
                {onConflict}
                """, connection);
            insert.Parameters.Add(new() { Value = tenantId });
            insert.Parameters.Add(new() { Value = device });
            insert.Parameters.Add(new() { Value = metrics });
            insert.Parameters.Add(new() { Value = Times(offset + batch) });
            insert.Parameters.Add(new() { Value = values });
            await insert.ExecuteNonQueryAsync();
        };

        var plain = await MeasureAsync(Unnest(unnestDevice, 0, ""));
        var unnest = await MeasureAsync(Unnest(unnestDevice, batches, "ON CONFLICT DO NOTHING"));
        var staged = await MeasureAsync(async (connection, batch) =>
        {
            await using (var create = new NpgsqlCommand("CREATE TEMP TABLE IF NOT EXISTS staging (metric smallint, recorded_at timestamptz, value float8) ON COMMIT DELETE ROWS", connection))
            {
                await create.ExecuteNonQueryAsync();
            }

            var times = Times(batch);
            await using (var import = await connection.BeginBinaryImportAsync("COPY staging (metric, recorded_at, value) FROM STDIN (FORMAT BINARY)"))
            {
                for (var i = 0; i < BatchSize; i++)
                {
                    await import.WriteRowAsync(default, metrics[i], times[i], values[i]);
                }

                await import.CompleteAsync();
            }

            await using var insert = new NpgsqlCommand(
                "INSERT INTO telemetry.readings (tenant_id, device_id, metric, recorded_at, value) SELECT $1, $2, metric, recorded_at, value FROM staging ON CONFLICT DO NOTHING", connection);
            insert.Parameters.Add(new() { Value = tenantId });
            insert.Parameters.Add(new() { Value = stagedDevice });
            await insert.ExecuteNonQueryAsync();
        });
        return (plain, unnest, staged);
    }

    /// <summary>Subscribers of one zone; a one-reading batch every 50 ms; each event's delay from the batch being sent.</summary>
    private static async Task<(int Deliveries, double P50, double P99)> FanOutAsync(HttpClient client, Grower grower, int subscribers, int batches)
    {
        var (zone, device) = await grower.ZonedDeviceAsync();
        using var streams = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = subscribers + 10 }) { BaseAddress = client.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        var sentAt = new ConcurrentDictionary<double, long>();
        var delays = new ConcurrentBag<double>();
        using var stop = new CancellationTokenSource();
        var connected = 0;
        var readers = Enumerable.Range(0, subscribers).Select(_ => Task.Run(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/streams/telemetry?zone_id={zone}");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", grower.Token);
            using var response = await streams.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop.Token);
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
            Interlocked.Increment(ref connected);
            try
            {
                while (await reader.ReadLineAsync(stop.Token) is { } line)
                {
                    if (line.StartsWith("data: ", StringComparison.Ordinal))
                    {
                        var value = JsonDocument.Parse(line[6..]).RootElement.GetProperty("readings")[0].GetProperty("value").GetDouble();
                        if (sentAt.TryGetValue(value, out var sent))
                        {
                            delays.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                        }
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // the benchmark is over
            }
        })).ToList();
        var wait = Stopwatch.StartNew();
        while (Volatile.Read(ref connected) < subscribers && wait.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(100);
        }

        await Task.Delay(1000); // every subscriber registered with the instance
        var at = DateTimeOffset.UtcNow.AddMinutes(-5);
        for (var i = 0; i < batches; i++)
        {
            var value = 10 + (i / 100.0);
            sentAt[value] = Stopwatch.GetTimestamp();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/telemetry/batches")
            {
                Content = JsonContent.Create(new { readings = new[] { new { metric = "temperature_c", value, recorded_at = at.AddSeconds(i) } } }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", device.Token);
            (await client.SendAsync(request)).EnsureSuccessStatusCode();
            await Task.Delay(50);
        }

        await Task.Delay(2000);
        await stop.CancelAsync();
        await Task.WhenAll(readers.Select(r => r.ContinueWith(_ => { }, TaskScheduler.Default)));
        var sorted = delays.Order().ToList();
        if (sorted.Count < subscribers * batches * 0.99)
        {
            Console.WriteLine($"bench: warning: only {sorted.Count} of {subscribers * batches} events arrived ({connected} subscribers connected)");
        }

        return (sorted.Count, Percentile(sorted, 0.50), Percentile(sorted, 0.99));
    }

    private static async Task<(int Rows, double P50, double P95)> RangeQueryAsync(HttpClient client, Grower grower, int queries)
    {
        var (id, _) = await grower.DeviceAsync();
        var to = DateTimeOffset.UtcNow;
        var from = to.AddDays(-182);
        var rows = 0;
        await using (var data = NpgsqlDataSource.Create(Connection("CANOPY_PG_APP_USER", "CANOPY_PG_APP_PASSWORD")))
        await using (var connection = await data.OpenConnectionAsync())
        await using (var tx = await connection.BeginTransactionAsync())
        {
            await using (var tenant = new NpgsqlCommand("SELECT set_config('app.tenant_id', $1, true)", connection, tx) { Parameters = { new() { Value = grower.TenantId.ToString() } } })
            {
                await tenant.ExecuteScalarAsync();
            }

            await using var fill = new NpgsqlCommand("""
                INSERT INTO telemetry.rollups (tenant_id, device_id, metric, width, bucket_start, min, max, sum, count, last, last_at)
                SELECT $1, $2, 1, 300, b, 18, 24, 63, 3, 21, b + interval '4 minutes'
                  FROM generate_series(date_bin('5 minutes', $3::timestamptz, TIMESTAMPTZ '2000-01-01 00:00:00+00'), $4::timestamptz, interval '5 minutes') b
                """, connection, tx);
            fill.Parameters.Add(new() { Value = grower.TenantId });
            fill.Parameters.Add(new() { Value = id });
            fill.Parameters.Add(new() { Value = from });
            fill.Parameters.Add(new() { Value = to });
            rows = await fill.ExecuteNonQueryAsync();
            await tx.CommitAsync();
        }

        var latencies = new List<double>();
        for (var i = 0; i < queries; i++)
        {
            var start = i % 2 == 0 ? from : from.AddDays(91);
            using var request = new HttpRequestMessage(HttpMethod.Get,
                $"/api/v1/devices/{id}/rollups?metric=temperature_c&bucket=5m&limit=1000&from={Uri.EscapeDataString(start.ToString("O"))}&to={Uri.EscapeDataString(to.ToString("O"))}");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", grower.Token);
            var sent = Stopwatch.GetTimestamp();
            using var response = await client.SendAsync(request);
            await response.EnsureSuccessStatusCode().Content.ReadAsByteArrayAsync();
            if (i >= 10)
            {
                latencies.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds); // the first ten warm up
            }
        }

        latencies.Sort();
        return (rows, Percentile(latencies, 0.50), Percentile(latencies, 0.95));
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

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
}

/// <summary>Distinct, past times per device: no batch of the run repeats an earlier one.</summary>
internal sealed class Timeline(DateTimeOffset start)
{
    private readonly ConcurrentDictionary<Guid, int> _next = new();

    public DateTimeOffset Take(Guid device, int readings) => start.AddSeconds(_next.AddOrUpdate(device, readings, (_, n) => n + readings) - readings);
}

/// <summary>A fresh organisation of the bench: its owner's token, a zone, and devices made through the API.</summary>
internal sealed class Grower(HttpClient client, Guid tenantId, string token, Guid zoneId)
{
    public Guid TenantId { get; } = tenantId;

    public string Token { get; } = token;

    public static async Task<Grower> CreateAsync(HttpClient client)
    {
        var email = $"bench.{Guid.NewGuid():N}@farm.example";
        var signUp = await SendAsync(client, HttpMethod.Post, "/api/v1/sign-ups", null, new { organization_name = "Bench Farms", email, password = "bench-password-0042", display_name = "Bench" });
        var token = (await SendAsync(client, HttpMethod.Post, "/api/v1/auth/tokens", null, new { email, password = "bench-password-0042" })).GetProperty("access_token").GetString()!;
        var grower = new Grower(client, signUp.GetProperty("tenant_id").GetGuid(), token, Guid.Empty);
        return new Grower(client, grower.TenantId, token, await grower.NewZoneAsync());
    }

    public async Task<(Guid Id, string Token)> DeviceAsync(Guid? zone = null)
    {
        var registered = await SendAsync(client, HttpMethod.Post, "/api/v1/devices", Token, new { serial_number = $"BN-{Guid.NewGuid():N}"[..20], model = "sensirion-scd41", zone_id = zone ?? zoneId });
        var id = registered.GetProperty("device").GetProperty("id").GetGuid();
        await SendAsync(client, HttpMethod.Post, $"/api/v1/devices/{id}/activate", Token, null, "\"1\"");
        var deviceToken = (await SendAsync(client, HttpMethod.Post, "/api/v1/device-tokens", null,
            new { device_id = id, credential = registered.GetProperty("credential").GetProperty("secret").GetString() })).GetProperty("access_token").GetString()!;
        return (id, deviceToken);
    }

    public async Task<(Guid Zone, (Guid Id, string Token) Device)> ZonedDeviceAsync()
    {
        var zone = await NewZoneAsync();
        return (zone, await DeviceAsync(zone));
    }

    private async Task<Guid> NewZoneAsync()
    {
        var farm = await SendAsync(client, HttpMethod.Post, "/api/v1/farms", Token, new { name = $"Bench {Guid.NewGuid():N}"[..20], latitude = 52, longitude = 5, time_zone = "UTC" });
        return (await SendAsync(client, HttpMethod.Post, $"/api/v1/farms/{farm.GetProperty("id").GetGuid()}/zones", Token, new { name = "Bench zone", kind = "greenhouse" }))
            .GetProperty("id").GetGuid();
    }

    private static async Task<JsonElement> SendAsync(HttpClient client, HttpMethod method, string path, string? token, object? body, string? ifMatch = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode ? JsonDocument.Parse(text).RootElement.Clone() : throw new InvalidOperationException($"{method} {path} answered {(int)response.StatusCode}: {text}");
    }
}

internal sealed class BenchHost(IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Test");
        builder.ConfigureAppConfiguration((_, configuration) => configuration.AddInMemoryCollection(settings));
    }
}
