using System.ComponentModel.DataAnnotations;
using Canopy.Platform.Observability;
using Canopy.Platform.Workers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Canopy.Platform.Messaging;

public sealed class MessagingOptions
{
    public const string Section = "Messaging";

    /// <summary>Processed outbox rows, inbox entries and finished jobs are deleted after this many days.</summary>
    [Range(1, 3650)]
    public int RetentionDays { get; set; } = 7;

    /// <summary>How often retention runs.</summary>
    [Range(1, 1440)]
    public int RetentionIntervalMinutes { get; set; } = 60;

    /// <summary>Polling fallback when no NOTIFY arrives.</summary>
    [Range(50, 60_000)]
    public int PollMilliseconds { get; set; } = 1_000;
}

/// <summary>Replays transient dead letters automatically: with backoff, at most 3 times each, within the per-minute budget.</summary>
public sealed partial class DeadLetterReplayer(NpgsqlDataSource dataSource, CanopyMetrics metrics, TimeProvider time, ILogger<DeadLetterReplayer> logger)
    : ResilientWorker(logger, metrics, time)
{
    protected override string Name => "dead-letter-replayer";

    protected override TimeSpan Interval => TimeSpan.FromSeconds(5);

    protected override async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, stoppingToken).ConfigureAwait(false);
        await using (connection)
        await using (transaction)
        {
            // The replay lock before the letter rows: the same order as a manual replay (no deadlock).
            await using (var replayLock = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({DeadLetters.ReplayLock})", connection, transaction))
            {
                await replayLock.ExecuteNonQueryAsync(stoppingToken).ConfigureAwait(false);
            }

            var due = new List<Guid>();
            await using (var select = new NpgsqlCommand($"""
                SELECT id FROM platform.dead_letters
                 WHERE status = 'OPEN' AND triage = 'transient' AND replays < {DeadLetters.MaxAutomaticReplays} AND next_replay_at <= now()
                 ORDER BY next_replay_at LIMIT {DeadLetters.ReplaysPerMinute}
                 FOR UPDATE SKIP LOCKED
                """, connection, transaction))
            {
                await using var reader = await select.ExecuteReaderAsync(stoppingToken).ConfigureAwait(false);
                while (await reader.ReadAsync(stoppingToken).ConfigureAwait(false))
                {
                    due.Add(reader.GetGuid(0));
                }
            }

            var replayed = 0;
            foreach (var id in due)
            {
                var outcome = await DeadLetters.ReplayAsync(connection, transaction, id, actor: null, automatic: true, stoppingToken).ConfigureAwait(false);
                if (outcome == ReplayOutcome.RateLimited)
                {
                    break;
                }

                if (outcome == ReplayOutcome.NotReplayable)
                {
                    await DeadLetters.ParkAsync(connection, transaction, id, stoppingToken).ConfigureAwait(false);
                }

                replayed += outcome == ReplayOutcome.Replayed ? 1 : 0;
            }

            await transaction.CommitAsync(stoppingToken).ConfigureAwait(false);
            if (replayed > 0)
            {
                LogReplayed(logger, replayed);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Replayed {Count} transient dead letters")]
    private static partial void LogReplayed(ILogger logger, int count);
}

/// <summary>Refreshes the dead-letter depth behind the <c>canopy_dead_letters</c> gauge.</summary>
public sealed class DeadLetterDepth(NpgsqlDataSource dataSource, CanopyMetrics metrics, TimeProvider time, ILogger<DeadLetterDepth> logger)
    : ResilientWorker(logger, metrics, time)
{
    private readonly CanopyMetrics _metrics = metrics;

    protected override string Name => "dead-letter-depth";

    protected override TimeSpan Interval => TimeSpan.FromSeconds(15);

    protected override async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        var depth = new List<(string, string, long)>();
        var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, stoppingToken).ConfigureAwait(false);
        await using (connection)
        await using (transaction)
        {
            await using var count = new NpgsqlCommand(
                "SELECT queue, status, count(*) FROM platform.dead_letters WHERE status IN ('OPEN', 'HELD') GROUP BY queue, status", connection, transaction);
            await using var reader = await count.ExecuteReaderAsync(stoppingToken).ConfigureAwait(false);
            while (await reader.ReadAsync(stoppingToken).ConfigureAwait(false))
            {
                depth.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
            }
        }

        // An empty queue still reports 0, so the alert has a series to evaluate.
        _metrics.DeadLetters(depth.Count > 0 ? depth : [("all", "OPEN", 0)]);
    }
}

/// <summary>Deletes processed outbox rows, old inbox entries and finished jobs after the retention period.</summary>
public sealed partial class RetentionWorker(NpgsqlDataSource dataSource, IOptions<MessagingOptions> options, CanopyMetrics metrics, TimeProvider time, ILogger<RetentionWorker> logger)
    : ResilientWorker(logger, metrics, time)
{
    private readonly ILogger<RetentionWorker> _logger = logger;

    protected override string Name => "retention";

    protected override TimeSpan Interval => TimeSpan.FromMinutes(options.Value.RetentionIntervalMinutes);

    protected override async Task RunOnceAsync(CancellationToken stoppingToken) =>
        LogPurged(_logger, await PurgeAsync(dataSource, TimeSpan.FromDays(options.Value.RetentionDays), stoppingToken).ConfigureAwait(false));

    /// <summary>Deletes what is older than <paramref name="age"/> and finished, and expired idempotency keys; dead letters stay until resolved.</summary>
    public static async Task<long> PurgeAsync(NpgsqlDataSource dataSource, TimeSpan age, CancellationToken cancellationToken)
    {
        var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, cancellationToken).ConfigureAwait(false);
        await using (connection)
        await using (transaction)
        {
            await using var purge = new NpgsqlCommand("""
                WITH events AS (
                    DELETE FROM platform.outbox o
                     WHERE o.occurred_at < now() - $1
                       AND NOT EXISTS (SELECT 1 FROM platform.outbox_deliveries d WHERE d.event_id = o.id AND d.status <> 'DONE')
                    RETURNING 1),
                inbox AS (DELETE FROM platform.inbox WHERE processed_at < now() - $1 RETURNING 1),
                jobs AS (
                    DELETE FROM platform.jobs
                     WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND finished_at < now() - $1
                    RETURNING 1),
                -- Idempotency keys live 24 hours whatever the retention (API-RULES.md).
                keys AS (DELETE FROM platform.idempotency_keys WHERE expires_at < now() RETURNING 1)
                SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM inbox) + (SELECT count(*) FROM jobs) + (SELECT count(*) FROM keys)
                """, connection, transaction);
            purge.Parameters.Add(new NpgsqlParameter { Value = age });
            var purged = (long)(await purge.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return purged;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention purged {Rows} processed rows")]
    private static partial void LogPurged(ILogger logger, long rows);
}

/// <summary>
/// Records this process's subscribers, so events written anywhere fan out to them. A database
/// that is down at start-up does not stop the service: the sync retries until it succeeds.
/// </summary>
public sealed partial class SubscriptionSync(NpgsqlDataSource dataSource, MessagingRegistry registry, ILogger<SubscriptionSync> logger) : BackgroundService
{
    private readonly List<(string Subscriber, string EventType)> _pairs =
        registry.Subscribers.SelectMany(s => s.EventTypes.Select(t => (s.Name, t))).ToList();

    /// <summary>Records the subscribers before the service starts; retries in the background only if that fails.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_pairs.Count == 0)
        {
            return;
        }

        try
        {
            await SyncAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException ex)
        {
            LogSyncFailed(logger, 1, ex);
            await base.StartAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        for (var attempt = 2; !stoppingToken.IsCancellationRequested; attempt++)
        {
            await Task.Delay(RetryDelay.Exponential(attempt, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30)), stoppingToken).ConfigureAwait(false);
            try
            {
                await SyncAsync(stoppingToken).ConfigureAwait(false);
                return;
            }
            catch (NpgsqlException ex)
            {
                LogSyncFailed(logger, attempt, ex);
            }
        }
    }

    private async Task SyncAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO platform.event_subscriptions (subscriber, event_type)
            SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = _pairs.Select(p => p.Subscriber).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = _pairs.Select(p => p.EventType).ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording event subscribers failed (attempt {Attempt}); retrying")]
    private static partial void LogSyncFailed(ILogger logger, int attempt, Exception exception);
}
