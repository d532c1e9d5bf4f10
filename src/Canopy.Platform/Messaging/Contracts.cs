using System.Text.Json;
using Npgsql;

namespace Canopy.Platform.Messaging;

/// <summary>A domain event as the outbox stores and delivers it.</summary>
public sealed record OutboxEvent(
    Guid Id,
    string Type,
    int Version,
    Guid? TenantId,
    Guid? AggregateId,
    JsonElement Payload,
    DateTimeOffset OccurredAt,
    string? TraceParent);

/// <summary>The transaction a handler runs in: its effects commit together with "handled".</summary>
public sealed record MessageContext(NpgsqlConnection Connection, NpgsqlTransaction Transaction, int Attempt)
{
    /// <summary>
    /// Work for after the transaction committed (clearing a cache of what it changed), run in
    /// order once it has; never run when it rolls back. A failure there is logged, not retried:
    /// the event is handled.
    /// </summary>
    public IList<Func<CancellationToken, Task>> AfterCommit { get; } = new List<Func<CancellationToken, Task>>();
}

/// <summary>A module's reaction to other modules' events. Handlers must be idempotent by event id.</summary>
public interface IEventSubscriber
{
    /// <summary>Stable name: deliveries and the inbox are tracked by it.</summary>
    string Name { get; }

    /// <summary>Who answers for this subscriber's dead letters (a team or module).</summary>
    string Owner { get; }

    IReadOnlyCollection<string> EventTypes { get; }

    /// <summary>Deliveries tried before the event becomes a dead letter.</summary>
    int MaxAttempts => 6;

    Task HandleAsync(OutboxEvent message, MessageContext context, CancellationToken cancellationToken);
}

/// <summary>A job as a handler receives it.</summary>
public sealed record JobContext(
    Guid Id,
    string Queue,
    string Type,
    Guid? TenantId,
    JsonElement Payload,
    string? IdempotencyKey,
    int Attempt,
    NpgsqlConnection Connection,
    NpgsqlTransaction Transaction,
    Func<double, CancellationToken, Task> ReportProgressAsync);

/// <summary>Runs one type of job. Its database effects go through the context's transaction.</summary>
public interface IJobHandler
{
    string Type { get; }

    Task HandleAsync(JobContext job, CancellationToken cancellationToken);
}

/// <summary>A queue: who owns its dead letters, how many jobs run at once, how often a job is tried.</summary>
public sealed record QueueDefinition(string Name, string Owner, int Concurrency = 4, int MaxAttempts = 6)
{
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan FirstRetry { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan MaxRetry { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Up to this many claimed jobs run one after another in one transaction with one commit (1:
    /// each alone). For short handlers whose effects are all in the database: when any job of a
    /// batch fails, is cancelled or lost its lease, the whole batch rolls back and each of its
    /// jobs runs again alone, so an effect outside the transaction would happen twice.
    /// </summary>
    public int BatchSize { get; init; } = 1;
}

/// <summary>How a failure is triaged when it becomes a dead letter.</summary>
public enum Triage
{
    /// <summary>Might work later: replayed automatically with backoff, at most 3 times.</summary>
    Transient,

    /// <summary>The message itself is wrong (schema, data): quarantined, never replayed automatically.</summary>
    Poison,

    /// <summary>A remote system is down: held until an operator replays it.</summary>
    DownstreamOutage,
}

/// <summary>Thrown by a handler when the message can never succeed (bad data): no retries.</summary>
public sealed class PoisonMessageException : Exception
{
    public PoisonMessageException()
    {
    }

    public PoisonMessageException(string message)
        : base(message)
    {
    }

    public PoisonMessageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Thrown by a handler when a remote system is unavailable: the letter is held.</summary>
public sealed class DownstreamUnavailableException : Exception
{
    public DownstreamUnavailableException()
    {
    }

    public DownstreamUnavailableException(string message)
        : base(message)
    {
    }

    public DownstreamUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

public static class Failures
{
    /// <summary>Poison at once for undeserialisable data; downstream outage for remote failures; else transient.</summary>
    public static Triage Classify(Exception exception) => exception switch
    {
        PoisonMessageException or JsonException or FormatException => Triage.Poison,
        DownstreamUnavailableException or HttpRequestException or TimeoutException => Triage.DownstreamOutage,
        _ => Triage.Transient,
    };

    public static string Text(Triage triage) => triage switch
    {
        Triage.Poison => "poison",
        Triage.DownstreamOutage => "downstream_outage",
        _ => "transient",
    };
}
