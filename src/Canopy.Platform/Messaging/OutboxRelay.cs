using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Canopy.Platform.Observability;
using Canopy.Platform.Workers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Canopy.Platform.Messaging;

/// <summary>
/// Delivers outbox events to this process's subscribers, one loop per subscriber so a slow or
/// failing subscriber never holds up the others. Deliveries are claimed with
/// <c>FOR UPDATE SKIP LOCKED</c> under a lease, in commit order, and an event of an aggregate is
/// held back while an earlier event of the same aggregate is pending for that subscriber. The
/// handler, the inbox row and "done" commit together: a redelivery has no second effect.
/// </summary>
public sealed partial class OutboxRelay(
    NpgsqlDataSource dataSource,
    MessagingRegistry registry,
    WorkSignals signals,
    CanopyMetrics metrics,
    TimeProvider time,
    IOptions<MessagingOptions> options,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    public string RelayId { get; } = LeaseOwner.New();

    public TimeSpan PollInterval { get; } = TimeSpan.FromMilliseconds(options.Value.PollMilliseconds);

    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(30);

    public int BatchSize { get; init; } = 100;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(registry.Subscribers.Select(s => RunSubscriberAsync(s, stoppingToken)));

    private async Task RunSubscriberAsync(IEventSubscriber subscriber, CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var handled = await DeliverBatchAsync(subscriber, stoppingToken).ConfigureAwait(false);
                failures = 0;
                if (handled == 0)
                {
                    await signals.WaitForEventsAsync(PollInterval, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                failures++;
                metrics.UnhandledException("worker:outbox");
                LogLoopFailed(logger, subscriber.Name, ex);
                await Task.Delay(RetryDelay.Exponential(failures, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30)), time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<int> DeliverBatchAsync(IEventSubscriber subscriber, CancellationToken cancellationToken)
    {
        var claimed = new List<(OutboxEvent Event, int Attempt)>();
        var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, cancellationToken).ConfigureAwait(false);
        await using (connection)
        await using (transaction)
        {
            await using var claim = new NpgsqlCommand("""
                WITH picked AS (
                    SELECT d.event_id FROM platform.outbox_deliveries d
                     WHERE d.subscriber = $1 AND d.status = 'PENDING' AND d.next_attempt_at <= now()
                       AND (d.locked_until IS NULL OR d.locked_until < now())
                       AND (d.aggregate_id IS NULL OR NOT EXISTS (
                            SELECT 1 FROM platform.outbox_deliveries e
                             WHERE e.subscriber = d.subscriber AND e.aggregate_id = d.aggregate_id
                               AND e.status = 'PENDING' AND e.event_seq < d.event_seq))
                     ORDER BY d.event_seq
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED),
                claimed AS (
                    UPDATE platform.outbox_deliveries d
                       SET locked_until = now() + $3, locked_by = $4, attempts = d.attempts + 1
                      FROM picked WHERE d.subscriber = $1 AND d.event_id = picked.event_id
                    RETURNING d.event_id, d.attempts, d.event_seq)
                SELECT o.id, o.type, o.version, o.tenant_id, o.aggregate_id, o.payload::text, o.occurred_at, o.trace_parent, c.attempts
                  FROM claimed c JOIN platform.outbox o ON o.id = c.event_id
                 ORDER BY c.event_seq
                """, connection, transaction);
            claim.Parameters.Add(new NpgsqlParameter { Value = subscriber.Name });
            claim.Parameters.Add(new NpgsqlParameter { Value = BatchSize });
            claim.Parameters.Add(new NpgsqlParameter { Value = Lease });
            claim.Parameters.Add(new NpgsqlParameter { Value = RelayId });
            await using (var reader = await claim.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    claimed.Add((new OutboxEvent(
                        reader.GetGuid(0), reader.GetString(1), reader.GetInt32(2),
                        reader.IsDBNull(3) ? null : reader.GetGuid(3), reader.IsDBNull(4) ? null : reader.GetGuid(4),
                        ParseOrDefault(reader.GetString(5)), reader.GetFieldValue<DateTimeOffset>(6), reader.IsDBNull(7) ? null : reader.GetString(7)),
                        reader.GetInt32(8)));
                }
            }

            // Not cancellable: a claim the server committed must reach the loop that delivers it.
            await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        foreach (var (message, attempt) in claimed)
        {
            await DeliverAsync(subscriber, message, attempt, cancellationToken).ConfigureAwait(false);
        }

        return claimed.Count;
    }

    private async Task DeliverAsync(IEventSubscriber subscriber, OutboxEvent message, int attempt, CancellationToken cancellationToken)
    {
        using var activity = CanopyActivitySource.Instance.StartActivity($"event {message.Type} → {subscriber.Name}", ActivityKind.Consumer, message.TraceParent);
        try
        {
            if (message.Payload.ValueKind == JsonValueKind.Undefined)
            {
                throw new PoisonMessageException("The event payload is not valid JSON.");
            }

            var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, cancellationToken, message.TenantId, durable: false).ConfigureAwait(false);
            await using (connection)
            await using (transaction)
            {
                // Renew the lease before each delivery of the batch; a lost one is left to its new owner.
                await using (var renew = new NpgsqlCommand("""
                    UPDATE platform.outbox_deliveries SET locked_until = now() + $4
                     WHERE event_id = $1 AND subscriber = $2 AND locked_by = $3 AND status = 'PENDING' AND attempts = $5
                    """, connection, transaction))
                {
                    renew.Parameters.Add(new NpgsqlParameter { Value = message.Id });
                    renew.Parameters.Add(new NpgsqlParameter { Value = subscriber.Name });
                    renew.Parameters.Add(new NpgsqlParameter { Value = RelayId });
                    renew.Parameters.Add(new NpgsqlParameter { Value = Lease });
                    renew.Parameters.Add(new NpgsqlParameter { Value = attempt });
                    if (await renew.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
                    {
                        metrics.EventHandled(subscriber.Name, "lease_lost", null);
                        return;
                    }
                }

                var context = new MessageContext(connection, transaction, attempt);
                await using (var inbox = new NpgsqlCommand(
                    "INSERT INTO platform.inbox (subscriber, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", connection, transaction))
                {
                    inbox.Parameters.Add(new NpgsqlParameter { Value = subscriber.Name });
                    inbox.Parameters.Add(new NpgsqlParameter { Value = message.Id });
                    if (await inbox.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1)
                    {
                        await subscriber.HandleAsync(message, context, cancellationToken).ConfigureAwait(false);
                    }
                }

                await using var done = new NpgsqlCommand("""
                    UPDATE platform.outbox_deliveries SET status = 'DONE', done_at = now(), locked_until = NULL, last_error = NULL
                     WHERE event_id = $1 AND subscriber = $2 AND locked_by = $3 AND status = 'PENDING'
                    """, connection, transaction);
                done.Parameters.Add(new NpgsqlParameter { Value = message.Id });
                done.Parameters.Add(new NpgsqlParameter { Value = subscriber.Name });
                done.Parameters.Add(new NpgsqlParameter { Value = RelayId });
                if (await done.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
                {
                    await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
                    metrics.EventHandled(subscriber.Name, "lease_lost", null);
                    return;
                }

                await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
                foreach (var after in context.AfterCommit)
                {
                    try
                    {
                        await after(cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        LogAfterCommitFailed(logger, message.Type, message.Id, subscriber.Name, ex);
                    }
                }
            }

            metrics.EventHandled(subscriber.Name, "handled", time.GetUtcNow() - message.OccurredAt);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            await FailAsync(subscriber, message, attempt, ex).ConfigureAwait(false);
        }
    }

    private async Task FailAsync(IEventSubscriber subscriber, OutboxEvent message, int attempt, Exception exception)
    {
        var triage = Failures.Classify(exception);
        var dead = triage != Triage.Transient || attempt >= subscriber.MaxAttempts;
        var error = DeadLetterStore.Describe(exception);
        LogDeliveryFailed(logger, message.Type, message.Id, subscriber.Name, attempt, dead, exception);
        metrics.EventHandled(subscriber.Name, dead ? "dead" : "retry", null);
        var now = time.GetUtcNow();
        var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, CancellationToken.None).ConfigureAwait(false);
        await using (connection)
        await using (transaction)
        {
            int owned;
            await using (var update = new NpgsqlCommand("""
                UPDATE platform.outbox_deliveries
                   SET status = CASE WHEN $4 THEN 'DEAD' ELSE 'PENDING' END, next_attempt_at = $5,
                       locked_until = NULL, locked_by = NULL, last_error = $6
                 WHERE event_id = $1 AND subscriber = $2 AND locked_by = $3 AND attempts = $7
                """, connection, transaction))
            {
                update.Parameters.Add(new NpgsqlParameter { Value = message.Id });
                update.Parameters.Add(new NpgsqlParameter { Value = subscriber.Name });
                update.Parameters.Add(new NpgsqlParameter { Value = RelayId });
                update.Parameters.Add(new NpgsqlParameter { Value = dead });
                update.Parameters.Add(new NpgsqlParameter { Value = now + RetryDelay.Exponential(attempt, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10)) });
                update.Parameters.Add(new NpgsqlParameter { Value = error });
                update.Parameters.Add(new NpgsqlParameter { Value = attempt });
                owned = await update.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
            }

            // A delivery that lost its lease is left to its new owner: no dead letter for it here.
            if (dead && owned == 1)
            {
                await using var payload = new NpgsqlCommand("SELECT payload::text FROM platform.outbox WHERE id = $1", connection, transaction);
                payload.Parameters.Add(new NpgsqlParameter { Value = message.Id });
                var payloadJson = (string?)await payload.ExecuteScalarAsync().ConfigureAwait(false) ?? "null";
                var history = JsonSerializer.Serialize(new[] { new { attempt, at = now, error } });
                await DeadLetterStore.RecordAsync(connection, transaction, "event", DeliveryId(message.Id, subscriber.Name), "events:" + subscriber.Name,
                    subscriber.Owner, message.TenantId, message.Type, payloadJson, message.Id.ToString(), triage, error, history, now, CancellationToken.None).ConfigureAwait(false);
            }

            await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>A stable id for the (event, subscriber) pair, the source of its dead letter.</summary>
    public static Guid DeliveryId(Guid eventId, string subscriber) =>
        new(SHA256.HashData(Encoding.UTF8.GetBytes($"{eventId:N}/{subscriber}")).AsSpan(0, 16), bigEndian: true);

    private static JsonElement ParseOrDefault(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return default;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox loop of subscriber {Subscriber} failed; retrying")]
    private static partial void LogLoopFailed(ILogger logger, string subscriber, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventType} {EventId} was handled by {Subscriber}, but its after-commit work failed")]
    private static partial void LogAfterCommitFailed(ILogger logger, string eventType, Guid eventId, string subscriber, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventType} {EventId} failed in {Subscriber} on attempt {Attempt} (dead letter: {Dead})")]
    private static partial void LogDeliveryFailed(ILogger logger, string eventType, Guid eventId, string subscriber, int attempt, bool dead, Exception exception);
}
