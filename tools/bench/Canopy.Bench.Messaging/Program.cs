using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Canopy.Platform.Messaging;
using Canopy.Platform.Migrations;
using Canopy.Platform.Observability;
using Canopy.Platform.Postgres;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

// Messaging benchmark against the test database of tools/servers.sh (never a production one).
// Targets (issue #4): at least 2,000 jobs/s through enqueue → claim → complete, and event
// latency (commit → handler) p99 ≤ 100 ms.
string Env(string name) => Environment.GetEnvironmentVariable(name) ?? throw new InvalidOperationException($"{name} is not set: run ./build.sh --target=Bench");
string Connection(string user, string password) => new NpgsqlConnectionStringBuilder
{
    Host = "127.0.0.1",
    Port = int.Parse(Env("CANOPY_PG_PORT"), System.Globalization.CultureInfo.InvariantCulture),
    Database = Env("CANOPY_PG_TEST_DATABASE"),
    Username = Env(user),
    Password = Env(password),
}.ConnectionString;

var app = Connection("CANOPY_PG_APP_USER", "CANOPY_PG_APP_PASSWORD");
await new MigrationRunner(Connection("CANOPY_PG_OWNER_USER", "CANOPY_PG_OWNER_PASSWORD"), Env("CANOPY_PG_APP_USER"),
    [MigrationServiceCollectionExtensions.PlatformMigrations], NullLogger<MigrationRunner>.Instance).ApplyAsync(CancellationToken.None);

var jobs = int.Parse(Environment.GetEnvironmentVariable("BENCH_JOBS") ?? "10000", System.Globalization.CultureInfo.InvariantCulture);
Console.WriteLine($"bench: messaging on PostgreSQL 127.0.0.1:{Env("CANOPY_PG_PORT")}, {Environment.ProcessorCount} cores, {jobs} jobs per run");
// Each worker count with jobs run one per transaction, and batched (QueueDefinition.BatchSize:
// short database-only jobs share a transaction and its commit).
var batched = int.Parse(Environment.GetEnvironmentVariable("BENCH_BATCH") ?? "32", System.Globalization.CultureInfo.InvariantCulture);
foreach (var (workers, batch) in new[] { (1, 1), (2, 1), (1, batched), (2, batched) })
{
    var queue = $"bench-{workers}-{Guid.NewGuid():N}"[..24];
    await using var producer = await Hosts.StartAsync(app, queue, runWorkers: false, batch);
    var enqueue = Stopwatch.StartNew();
    await producer.InTransactionAsync(async (c, t) =>
    {
        for (var i = 0; i < jobs; i++)
        {
            await producer.Writer.EnqueueAsync(c, t, new JobRequest(queue, "bench.noop", new { i }), CancellationToken.None);
        }
    });
    enqueue.Stop();

    var run = Stopwatch.StartNew();
    var hosts = new List<Hosts>();
    for (var w = 0; w < workers; w++)
    {
        hosts.Add(await Hosts.StartAsync(app, queue, runWorkers: true, batch));
    }

    while (await producer.CountAsync("SELECT count(*) FROM platform.jobs WHERE queue = $1 AND status = 'SUCCEEDED'", queue) < jobs)
    {
        await Task.Delay(20);
    }

    run.Stop();
    foreach (var host in hosts)
    {
        await host.DisposeAsync();
    }

    Console.WriteLine($"bench: jobs, {workers} worker(s), batch {batch}: enqueue {jobs / enqueue.Elapsed.TotalSeconds:F0} jobs/s (one transaction); " +
        $"claim → run → complete {jobs / run.Elapsed.TotalSeconds:F0} jobs/s (target ≥ 2000)");
    await producer.InTransactionAsync(async (c, t) =>
    {
        await using var clean = new NpgsqlCommand("DELETE FROM platform.jobs WHERE queue = $1", c, t);
        clean.Parameters.Add(new NpgsqlParameter { Value = queue });
        await clean.ExecuteNonQueryAsync();
    });
}

var events = int.Parse(Environment.GetEnvironmentVariable("BENCH_EVENTS") ?? "1000", System.Globalization.CultureInfo.InvariantCulture);
var type = $"bench.latency_{Guid.NewGuid():N}"[..30];
var latencies = new ConcurrentBag<double>();
await using (var relay = await Hosts.StartAsync(app, "bench-events", runWorkers: true, subscriber: new LatencySubscriber(type, latencies)))
{
    for (var i = 0; i < events; i++)
    {
        await relay.InTransactionAsync((c, t) => relay.Writer.AppendEventAsync(c, t, type, 1, new { i }, null, Guid.CreateVersion7(), CancellationToken.None));
        await Task.Delay(2);
    }

    var deadline = DateTime.UtcNow.AddSeconds(60);
    while (latencies.Count < events && DateTime.UtcNow < deadline)
    {
        await Task.Delay(20);
    }
}

var sorted = latencies.Order().ToArray();
double Percentile(double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
Console.WriteLine($"bench: events, {sorted.Length}/{events} handled one at a time: commit → handler p50 {Percentile(0.50):F1} ms, p99 {Percentile(0.99):F1} ms (target p99 ≤ 100 ms)");

/// <summary>A messaging host of the benchmark: the platform's real workers, no-op job handler.</summary>
internal sealed class Hosts : IAsyncDisposable
{
    private readonly IHost _host;

    private Hosts(IHost host) => _host = host;

    public MessageWriter Writer => _host.Services.GetRequiredService<MessageWriter>();

    public static async Task<Hosts> StartAsync(string connection, string queue, bool runWorkers, int batch = 1, IEventSubscriber? subscriber = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = connection,
            ["Postgres:PoolName"] = "bench_" + Guid.NewGuid().ToString("N")[..8],
            ["Postgres:MaxPoolSize"] = "20",
            ["Messaging:PollMilliseconds"] = "200",
        });
        builder.Services.AddMetrics();
        builder.Services.AddSingleton(sp => new CanopyMetrics(sp.GetRequiredService<IMeterFactory>()));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddCanopyPostgres(builder.Configuration);
        builder.Services.AddSingleton(new QueueDefinition(queue, "bench", Concurrency: int.Parse(Environment.GetEnvironmentVariable("BENCH_CONCURRENCY") ?? "8", System.Globalization.CultureInfo.InvariantCulture))
        {
            BatchSize = batch,
        });
        builder.Services.AddSingleton<IJobHandler, NoopJob>();
        if (subscriber is not null)
        {
            builder.Services.AddSingleton(subscriber);
        }

        builder.Services.AddCanopyMessaging(builder.Configuration, runWorkers);
        var host = builder.Build();
        await host.StartAsync();
        return new Hosts(host);
    }

    public async Task InTransactionAsync(Func<NpgsqlConnection, NpgsqlTransaction, Task> work)
    {
        var (connection, transaction) = await Scope.BeginPlatformAsync(_host.Services.GetRequiredService<NpgsqlDataSource>(), CancellationToken.None);
        await using (connection)
        await using (transaction)
        {
            await work(connection, transaction);
            await transaction.CommitAsync();
        }
    }

    public async Task<long> CountAsync(string sql, string parameter)
    {
        long count = 0;
        await InTransactionAsync(async (c, t) =>
        {
            await using var command = new NpgsqlCommand(sql, c, t);
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
            count = (long)(await command.ExecuteScalarAsync())!;
        });
        return count;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

internal sealed class NoopJob : IJobHandler
{
    public string Type => "bench.noop";

    public Task HandleAsync(JobContext job, CancellationToken cancellationToken) => Task.CompletedTask;
}

internal sealed class LatencySubscriber(string type, ConcurrentBag<double> latencies) : IEventSubscriber
{
    public string Name => "bench-latency-" + type[^8..];

    public string Owner => "bench";

    public IReadOnlyCollection<string> EventTypes => [type];

    public Task HandleAsync(OutboxEvent message, MessageContext context, CancellationToken cancellationToken)
    {
        latencies.Add((DateTimeOffset.UtcNow - message.OccurredAt).TotalMilliseconds);
        return Task.CompletedTask;
    }
}
