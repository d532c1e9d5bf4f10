using System.Diagnostics.Metrics;
using Canopy.Messaging.Harness;
using Canopy.Platform.Messaging;
using Canopy.Platform.Observability;
using Canopy.Platform.Postgres;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

// Usage: Canopy.Messaging.Harness --queue <name> [--lease-seconds N] [--concurrency N]
// The connection string comes from ConnectionStrings__Postgres.
var builder = Host.CreateApplicationBuilder(args);
var queue = builder.Configuration["queue"] ?? throw new InvalidOperationException("--queue is required");
var lease = TimeSpan.FromSeconds(builder.Configuration.GetValue("lease-seconds", 30));
var concurrency = builder.Configuration.GetValue("concurrency", 4);
builder.Configuration["Postgres:PoolName"] = "harness";
builder.Configuration["Messaging:PollMilliseconds"] = "100";
builder.Services.AddMetrics();
builder.Services.AddSingleton(sp => new CanopyMetrics(sp.GetRequiredService<IMeterFactory>()));
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddCanopyPostgres(builder.Configuration);
builder.Services.AddSingleton(new QueueDefinition(queue, "messaging-tests", concurrency, MaxAttempts: 3) { Lease = lease, FirstRetry = TimeSpan.FromMilliseconds(200) });
builder.Services.AddSingleton<IJobHandler, RecordEffect>();
builder.Services.AddCanopyMessaging(builder.Configuration, runWorkers: true);
var host = builder.Build();
await host.StartAsync();
Console.WriteLine("harness: ready");
await host.WaitForShutdownAsync();

namespace Canopy.Messaging.Harness
{
    /// <summary>Records one effect row per execution, after an optional pause taken from the payload.</summary>
    internal sealed class RecordEffect : IJobHandler
    {
        public string Type => "harness.record";

        public async Task HandleAsync(JobContext job, CancellationToken cancellationToken)
        {
            if (job.Payload.TryGetProperty("pause_ms", out var pause))
            {
                Console.WriteLine($"harness: running {job.Id} attempt {job.Attempt}");
                await Task.Delay(pause.GetInt32(), cancellationToken);
            }

            await using var insert = new NpgsqlCommand("INSERT INTO kernel_tests.job_effects (job_id, worker) VALUES ($1, $2)", job.Connection, job.Transaction);
            insert.Parameters.Add(new NpgsqlParameter { Value = job.Id });
            insert.Parameters.Add(new NpgsqlParameter { Value = $"harness-{Environment.ProcessId}" });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}
