using System.Collections.Concurrent;
using System.Text.Json;
using Canopy.Platform.Messaging;
using Canopy.Platform.Redis;
using Canopy.Telemetry.Domain;
using Canopy.Telemetry.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Canopy.Telemetry.Streaming;

/// <summary>
/// Live readings across instances. A stored batch is appended, in one script, to a Redis stream
/// of its device and one of its zone (the replay buffer behind Last-Event-ID, bounded by count
/// and by age; each entry id is the event id) and published once on the channel every instance
/// with stream clients listens to; each instance hands the event to its own clients of that
/// device or zone. The same script appends the batch to the feed of stored readings
/// (<see cref="ReadingFeed"/>) that Alerting evaluates. A batch that repeated some earlier
/// readings is sent whole: a reading is identified by (device_id, metric, recorded_at).
/// </summary>
internal sealed partial class LiveReadings : IDisposable
{
    public const string Channel = "telemetry:live";

    // KEYS: the device's stream, the zone's, the feed. ARGV: max events, data, channel, seconds
    // to keep, oldest id to keep, the feed's cap, the tenant. One message names both streams and
    // their ids: "<device key> <id> <zone key> <id>\n<data>".
    private const string AppendScript = """
        local header = {}
        for i = 1, 2 do
          local id = redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], '*', 'd', ARGV[2])
          redis.call('XTRIM', KEYS[i], 'MINID', '~', ARGV[5])
          redis.call('EXPIRE', KEYS[i], ARGV[4])
          header[#header + 1] = KEYS[i]
          header[#header + 1] = id
        end
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 't', ARGV[7], 'd', ARGV[2])
        redis.call('PUBLISH', ARGV[3], table.concat(header, ' ') .. '\n' .. ARGV[2])
        return header
        """;

    private readonly RedisConnection _redis;
    private readonly TelemetryMetrics _metrics;
    private readonly IOptions<TelemetryOptions> _options;
    private readonly ILogger<LiveReadings> _logger;
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<StreamClient, byte>> _clients = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _listening = new(1, 1);
    private ChannelMessageQueue? _queue;

    public LiveReadings(RedisConnection redis, TelemetryMetrics metrics, IOptions<TelemetryOptions> options, ILogger<LiveReadings> logger)
    {
        _redis = redis;
        _metrics = metrics;
        _options = options;
        _logger = logger;
    }

    public static string DeviceKey(Guid tenantId, Guid deviceId) => $"telemetry:events:{tenantId}:device:{deviceId}";

    public static string ZoneKey(Guid tenantId, Guid zoneId) => $"telemetry:events:{tenantId}:zone:{zoneId}";

    /// <summary>
    /// After the batch committed: the readings are stored whatever happens here, so a Redis
    /// failure is logged and counted, never answered to the device.
    /// </summary>
    public async Task PublishAsync(StoredBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var data = Data(batch);
        var window = TimeSpan.FromMinutes(_options.Value.StreamReplayMinutes);
        // Entry ids are Redis's own clock in milliseconds, so the oldest id to keep is wall-clock time too.
        var oldest = $"{(DateTimeOffset.UtcNow - window).ToUnixTimeMilliseconds()}-0";
        try
        {
            await _redis.ExecuteAsync("EVAL telemetry.append", db => db.ScriptEvaluateAsync(AppendScript,
                [DeviceKey(batch.TenantId, batch.DeviceId), ZoneKey(batch.TenantId, batch.ZoneId), ReadingFeed.Key],
                [_options.Value.StreamReplayEvents, data, Channel, (int)window.TotalSeconds + 60, oldest, _options.Value.FeedMaxEntries, batch.TenantId.ToString()])).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisUnavailableException.Is(ex) || ex is RedisException)
        {
            _metrics.StreamPublishFailed();
            LogPublishFailed(_logger, batch.DeviceId, ex);
        }
    }

    /// <summary>The event's data (TelemetryStreamReadings), written directly: a batch may hold 5,000 readings.</summary>
    private static string Data(StoredBatch batch)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(64 + (batch.Readings.Count * 72));
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("device_id", batch.DeviceId);
            json.WriteString("zone_id", batch.ZoneId);
            json.WriteStartArray("readings");
            foreach (var reading in batch.Readings)
            {
                json.WriteStartObject();
                json.WriteString("metric", StoredMetrics.Name(reading.Metric));
                json.WriteNumber("value", reading.Value);
                json.WriteString("recorded_at", reading.RecordedAt);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Adds a client of a device or zone stream; the instance starts listening with its first client.</summary>
    public async Task JoinAsync(string key, StreamClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        await EnsureListeningAsync().ConfigureAwait(false);
        _clients.GetOrAdd(key, _ => new()).TryAdd(client, 0);
        _metrics.SubscriberJoined();
    }

    public void Leave(string key, StreamClient client)
    {
        if (_clients.TryGetValue(key, out var clients) && clients.TryRemove(client, out _))
        {
            _metrics.SubscriberLeft();
        }
    }

    /// <summary>Closes every client of this instance (shutdown): each gets its final event.</summary>
    public void CloseAll(string reason)
    {
        foreach (var client in _clients.Values.SelectMany(c => c.Keys))
        {
            client.Close(reason);
        }
    }

    /// <summary>
    /// The events after <paramref name="afterId"/>, oldest first, or null when some of them are
    /// gone from the buffer (trimmed, or the buffer expired): the client must refetch instead.
    /// </summary>
    public async Task<IReadOnlyList<StreamEvent>?> ReplayAsync(string key, string afterId)
    {
        if (!EntryId.TryParse(afterId, out var after))
        {
            return null;
        }

        var limit = _options.Value.StreamReplayEvents;
        var (oldest, entries) = await _redis.ExecuteAsync("XRANGE telemetry.replay", async db =>
        {
            var first = await db.StreamRangeAsync(key, "-", "+", 1).ConfigureAwait(false);
            var missed = await db.StreamRangeAsync(key, "(" + after, "+", limit).ConfigureAwait(false);
            return (first, missed);
        }).ConfigureAwait(false);
        // The entry the client saw last is older than the oldest kept, none is kept at all (the
        // buffer expired), or more came since than the buffer holds: some of it is gone.
        if (oldest.Length == 0 || !EntryId.TryParse(oldest[0].Id, out var first) || first.CompareTo(after) > 0 || entries.Length >= limit)
        {
            return null;
        }

        return entries.Select(e => new StreamEvent(e.Id!, "readings", e["d"]!)).ToList();
    }

    /// <summary>The id of the newest event of a stream, if any: where a client told to refetch resumes from.</summary>
    public async Task<string?> LatestIdAsync(string key)
    {
        var latest = await _redis.ExecuteAsync("XREVRANGE telemetry.latest", db => db.StreamRangeAsync(key, "+", "-", 1, Order.Descending)).ConfigureAwait(false);
        return latest.Length == 1 ? latest[0].Id.ToString() : null;
    }

    private async Task EnsureListeningAsync()
    {
        if (_queue is not null)
        {
            return;
        }

        await _listening.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_queue is null)
            {
                var queue = await _redis.ExecuteAsync("SUBSCRIBE telemetry.live",
                    _ => _redis.Multiplexer.GetSubscriber().SubscribeAsync(RedisChannel.Literal(Channel))).ConfigureAwait(false);
                // One message at a time, in the order published: each client sees its events in id order.
                queue.OnMessage(Dispatch);
                _queue = queue;
            }
        }
        finally
        {
            _listening.Release();
        }
    }

    private void Dispatch(ChannelMessage message)
    {
        var text = (string?)message.Message;
        var end = text?.IndexOf('\n', StringComparison.Ordinal) ?? -1;
        if (end < 0)
        {
            return;
        }

        var header = text![..end].Split(' ');
        string? data = null;
        for (var i = 0; i + 1 < header.Length; i += 2)
        {
            if (_clients.TryGetValue(header[i], out var clients) && !clients.IsEmpty)
            {
                var streamEvent = new StreamEvent(header[i + 1], "readings", data ??= text[(end + 1)..]);
                foreach (var client in clients.Keys)
                {
                    client.Offer(streamEvent);
                }
            }
        }
    }

    public void Dispose()
    {
        _queue?.Unsubscribe();
        _listening.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Readings of device {DeviceId} were stored but not published to live streams")]
    private static partial void LogPublishFailed(ILogger logger, Guid deviceId, Exception exception);
}
