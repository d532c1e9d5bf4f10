using System.Text.Json;
using Canopy.Platform.Messaging;
using Npgsql;

namespace Canopy.Api.Tests.Messaging;

/// <summary>Records each handled event as a row, in the delivery's transaction.</summary>
internal sealed class RecordingSubscriber(string name, string eventType, Func<OutboxEvent, Exception?>? failure = null) : IEventSubscriber
{
    public string Name => name;

    public string Owner => "messaging-tests";

    public IReadOnlyCollection<string> EventTypes => [eventType];

    public int MaxAttempts => 2;

    public async Task HandleAsync(OutboxEvent message, MessageContext context, CancellationToken cancellationToken)
    {
        if (failure?.Invoke(message) is { } error)
        {
            throw error;
        }

        await using var insert = new NpgsqlCommand(
            "INSERT INTO kernel_tests.event_effects (subscriber, event_id, aggregate_id, seq) VALUES ($1, $2, $3, $4)", context.Connection, context.Transaction);
        insert.Parameters.Add(new NpgsqlParameter { Value = name });
        insert.Parameters.Add(new NpgsqlParameter { Value = message.Id });
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)message.AggregateId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid });
        insert.Parameters.Add(new NpgsqlParameter { Value = message.Payload.TryGetProperty("seq", out var seq) ? seq.GetInt32() : 0 });
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>A job that records its effect, or fails the way it is told to, or runs slowly reporting progress.</summary>
internal sealed class ScriptedJob(string type, Func<JobContext, Exception?>? failure = null) : IJobHandler
{
    public string Type => type;

    public int Runs;

    public async Task HandleAsync(JobContext job, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Runs);
        if (failure?.Invoke(job) is { } error)
        {
            throw error;
        }

        if (job.Payload.TryGetProperty("pause_ms", out var pause))
        {
            await job.ReportProgressAsync(0.5, cancellationToken);
            await Task.Delay(pause.GetInt32(), cancellationToken);
        }

        if (job.Payload.TryGetProperty("strict", out _))
        {
            _ = JsonSerializer.Deserialize<int>(job.Payload.GetProperty("strict").GetRawText());
        }

        await using var insert = new NpgsqlCommand("INSERT INTO kernel_tests.job_effects (job_id, worker) VALUES ($1, 'in-process')", job.Connection, job.Transaction);
        insert.Parameters.Add(new NpgsqlParameter { Value = job.Id });
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }
}
