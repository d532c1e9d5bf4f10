using System.Collections.Concurrent;
using Canopy.Platform.Messaging;
using Canopy.Platform.Observability;
using Canopy.Platform.Redis;
using Canopy.Platform.Workers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace Canopy.Alerting.Features;

/// <summary>
/// Reads the feed of stored readings (<see cref="ReadingFeed"/>) through the consumer group
/// <see cref="Group"/>, which every instance running workers joins: each stored batch goes to
/// one of them, is evaluated (<see cref="ThresholdAlerts"/>), then acknowledged and deleted. An
/// entry whose evaluation failed stays pending and is tried again: first by its worker, then,
/// if that worker stopped, by another once it has been idle for
/// <see cref="AlertingOptions.FeedClaimIdleSeconds"/>. While PostgreSQL or Redis is down
/// entries wait, however long; an entry that fails for another reason stays pending while the
/// others go on, and is dropped after <see cref="AlertingOptions.FeedMaxAttempts"/> attempts on
/// one instance, logged with its error. One worker's batches are evaluated in the order it reads
/// them; batches of one device taken by two workers may commit out of order, and the older one's
/// readings are then behind the pair's state and skipped (docs/TECH_DEBT.md).
/// </summary>
internal sealed partial class FeedEvaluation : ResilientWorker
{
    public const string Group = "alerting";

    private readonly RedisConnection _redis;
    private readonly ThresholdAlerts _alerts;
    private readonly WatchedMetrics _watched;
    private readonly AlertingMetrics _metrics;
    private readonly IOptions<AlertingOptions> _options;
    private readonly ILogger<FeedEvaluation> _logger;
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly string _consumer = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
    private bool _grouped;
    private DateTimeOffset _nextTidy = DateTimeOffset.MinValue;

    public FeedEvaluation(
        RedisConnection redis, ThresholdAlerts alerts, WatchedMetrics watched, AlertingMetrics metrics, IOptions<AlertingOptions> options,
        ILogger<FeedEvaluation> logger, CanopyMetrics canopyMetrics, TimeProvider time)
        : base(logger, canopyMetrics, time)
    {
        _redis = redis;
        _alerts = alerts;
        _watched = watched;
        _metrics = metrics;
        _options = options;
        _logger = logger;
    }

    protected override string Name => "alerting-feed";

    protected override TimeSpan Interval => TimeSpan.FromMilliseconds(_options.Value.FeedPollMilliseconds);

    protected override async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        try
        {
            await EnsureGroupAsync().ConfigureAwait(false);
            var settings = _options.Value;
            // This worker's own entries that failed before, then those of a worker that stopped,
            // then new ones, until the feed is empty for now.
            await HandleAsync(await ReadAsync("0").ConfigureAwait(false), stoppingToken).ConfigureAwait(false);
            var claimed = await _redis.ExecuteAsync("XAUTOCLAIM alerting.feed", db => db.StreamAutoClaimAsync(
                ReadingFeed.Key, Group, _consumer, settings.FeedClaimIdleSeconds * 1000L, "0-0", settings.FeedBatch)).ConfigureAwait(false);
            await HandleAsync(claimed.ClaimedEntries, stoppingToken).ConfigureAwait(false);
            while (!stoppingToken.IsCancellationRequested)
            {
                var entries = await ReadAsync(">").ConfigureAwait(false);
                if (entries.Length == 0)
                {
                    break;
                }

                await HandleAsync(entries, stoppingToken).ConfigureAwait(false);
            }

            await TidyAsync().ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            _grouped = false; // Redis lost the group (flushed or restarted empty): made again next time.
            throw;
        }
    }

    private Task<StreamEntry[]> ReadAsync(string position) =>
        _redis.ExecuteAsync("XREADGROUP alerting.feed", db => db.StreamReadGroupAsync(ReadingFeed.Key, Group, _consumer, position, _options.Value.FeedBatch));

    private async Task EnsureGroupAsync()
    {
        if (_grouped)
        {
            return;
        }

        try
        {
            // From the feed's current end: a group made now has nothing older to catch up on.
            await _redis.ExecuteAsync("XGROUP CREATE alerting.feed", db => db.StreamCreateConsumerGroupAsync(ReadingFeed.Key, Group, StreamPosition.NewMessages, createStream: true))
                .ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            // Another instance made it.
        }

        _grouped = true;
    }

    /// <summary>
    /// Evaluates the entries in order. One whose evaluation fails stays pending and the others go
    /// on; when PostgreSQL or Redis is unavailable the first such failure ends the round (the
    /// worker backs off and tries the pending entries again).
    /// </summary>
    private async Task HandleAsync(StreamEntry[] entries, CancellationToken stoppingToken)
    {
        foreach (var entry in entries)
        {
            if (entry.IsNull || entry.Values is null || entry.Values.Length == 0)
            {
                // Trimmed while pending: nothing left to evaluate, and nothing to keep pending.
                await _redis.ExecuteAsync("XACK alerting.feed", db => db.StreamAcknowledgeAsync(ReadingFeed.Key, Group, entry.Id)).ConfigureAwait(false);
                continue;
            }

            var id = entry.Id.ToString();
            string outcome;
            // Most batches belong to tenants without a rule: those are acknowledged unread.
            var unwatched = Guid.TryParse((string?)entry[ReadingFeed.TenantField], out var tenant)
                && !await _watched.AnyRuleAsync(tenant, stoppingToken).ConfigureAwait(false);
            var batch = unwatched ? null : ReadingFeed.Parse(entry[ReadingFeed.TenantField], entry[ReadingFeed.DataField]);
            if (unwatched)
            {
                outcome = "unwatched";
            }
            else if (batch is null)
            {
                outcome = "poison";
                LogPoison(_logger, id);
            }
            else
            {
                try
                {
                    await _alerts.EvaluateAsync(batch, stoppingToken).ConfigureAwait(false);
                    outcome = "evaluated";
                }
                catch (Exception ex) when (!IsUnavailable(ex) && !stoppingToken.IsCancellationRequested)
                {
                    // Counted by this instance: another that takes the entry over counts anew.
                    if (_failures.Count > 10_000)
                    {
                        _failures.Clear();
                    }

                    var attempts = _failures.AddOrUpdate(id, 1, (_, n) => n + 1);
                    if (attempts < _options.Value.FeedMaxAttempts)
                    {
                        LogFailed(_logger, id, batch.DeviceId, attempts, ex);
                        continue;
                    }

                    outcome = "dropped";
                    LogDropped(_logger, id, batch.DeviceId, attempts, ex);
                }
            }

            await _redis.ExecuteAsync("XACK alerting.feed", async db =>
            {
                await db.StreamAcknowledgeAsync(ReadingFeed.Key, Group, entry.Id).ConfigureAwait(false);
                return await db.StreamDeleteAsync(ReadingFeed.Key, [entry.Id]).ConfigureAwait(false);
            }).ConfigureAwait(false);
            _failures.TryRemove(id, out _);
            _metrics.FeedEntry(outcome);
            if (EntryTime(id) is { } added)
            {
                _metrics.EvaluationDelay(DateTimeOffset.UtcNow - added);
            }
        }
    }

    /// <summary>Once an hour, forgets the group's consumers that stopped with nothing pending (every start of an instance adds one).</summary>
    private async Task TidyAsync()
    {
        var now = DateTimeOffset.UtcNow;
        if (now < _nextTidy)
        {
            return;
        }

        _nextTidy = now.AddHours(1);
        var consumers = await _redis.ExecuteAsync("XINFO CONSUMERS alerting.feed", db => db.StreamConsumerInfoAsync(ReadingFeed.Key, Group)).ConfigureAwait(false);
        foreach (var gone in consumers.Where(c => c.PendingMessageCount == 0 && c.IdleTimeInMilliseconds > TimeSpan.FromHours(1).TotalMilliseconds && c.Name != _consumer))
        {
            await _redis.ExecuteAsync("XGROUP DELCONSUMER alerting.feed", db => db.StreamDeleteConsumerAsync(ReadingFeed.Key, Group, gone.Name)).ConfigureAwait(false);
        }
    }

    /// <summary>PostgreSQL or Redis cannot answer now: the entry waits, without counting an attempt.</summary>
    private static bool IsUnavailable(Exception exception) =>
        exception is NpgsqlException { IsTransient: true } or TimeoutException || RedisUnavailableException.Is(exception);

    /// <summary>When Redis added the entry: its id's milliseconds.</summary>
    private static DateTimeOffset? EntryTime(string id) =>
        long.TryParse(id.AsSpan(0, Math.Max(0, id.IndexOf('-', StringComparison.Ordinal))), out var ms) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Feed entry {EntryId} is not a stored batch; dropped")]
    private static partial void LogPoison(ILogger logger, string entryId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Feed entry {EntryId} (device {DeviceId}) failed evaluation (attempt {Attempts}); it stays pending")]
    private static partial void LogFailed(ILogger logger, string entryId, Guid deviceId, int attempts, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Feed entry {EntryId} (device {DeviceId}) failed evaluation {Attempts} times; dropped, its readings raise no alert")]
    private static partial void LogDropped(ILogger logger, string entryId, Guid deviceId, int attempts, Exception exception);
}
