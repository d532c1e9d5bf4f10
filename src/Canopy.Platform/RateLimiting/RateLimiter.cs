using System.Collections.Concurrent;
using Canopy.Platform.Observability;
using Canopy.Platform.Redis;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Canopy.Platform.RateLimiting;

/// <summary>The outcome of one check: whether the request may go on, and what the headers say.</summary>
public sealed record RateLimitDecision(bool Allowed, int Remaining, int ResetSeconds, int RetryAfterSeconds);

/// <summary>
/// GCRA (a token bucket by arrival times): a quota of <c>limit</c> per <c>window</c> admits a
/// burst of <c>limit</c>, then one request per <c>window / limit</c>. The state of a key is one
/// number, its theoretical arrival time, in Redis, checked and advanced by one Lua script so
/// every API instance shares the quota. While Redis cannot answer, each instance keeps the same
/// arithmetic in memory (ADR 0011): limits stay enforced, per instance, and the switch is logged
/// and counted.
/// </summary>
public sealed partial class RateLimiter(RedisConnection redis, CanopyMetrics metrics, TimeProvider time, ILogger<RateLimiter> logger)
{
    public const string KeyPrefix = "ratelimit:";

    // Returns {allowed, remaining, reset ms, retry ms}. Time is the server's, so instances agree.
    private const string Script = """
        local limit = tonumber(ARGV[1])
        local window = tonumber(ARGV[2])
        local now_parts = redis.call('TIME')
        local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
        local interval = window / limit
        local tat = tonumber(redis.call('GET', KEYS[1]) or now)
        if tat < now then tat = now end
        local next_tat = tat + interval
        if next_tat - window > now then
          local wait = math.ceil(next_tat - window - now)
          return {0, 0, wait, wait}
        end
        redis.call('SET', KEYS[1], tostring(next_tat), 'PX', math.ceil(next_tat - now))
        return {1, math.floor((now + window - next_tat) / interval), math.ceil(next_tat - now), 0}
        """;

    private readonly ConcurrentDictionary<string, double> _local = new(StringComparer.Ordinal);
    private int _degraded;

    public async Task<RateLimitDecision> CheckAsync(string key, TierQuota quota, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(quota);
        var window = quota.WindowSeconds * 1000.0;
        try
        {
            var result = (RedisResult[])(await redis.ExecuteAsync("EVAL ratelimit", db =>
                db.ScriptEvaluateAsync(Script, [KeyPrefix + key], [quota.Limit, window])).ConfigureAwait(false))!;
            Recovered();
            return Decision((int)result[0] == 1, (long)result[1], (long)result[2], (long)result[3]);
        }
        catch (Exception ex) when (Canopy.Platform.Redis.RedisUnavailableException.Is(ex))
        {
            Degraded(ex);
            return CheckLocally(key, quota.Limit, window);
        }
    }

    /// <summary>The same GCRA as the script, for this instance only.</summary>
    private RateLimitDecision CheckLocally(string key, int limit, double window)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var interval = window / limit;
        while (true)
        {
            var known = _local.TryGetValue(key, out var stored);
            var tat = known ? Math.Max(stored, now) : now;
            var next = tat + interval;
            if (next - window > now)
            {
                var wait = (long)Math.Ceiling(next - window - now);
                return Decision(false, 0, wait, wait);
            }

            if (known ? _local.TryUpdate(key, next, stored) : _local.TryAdd(key, next))
            {
                if (_local.Count > 100_000)
                {
                    Sweep(now);
                }

                return Decision(true, (long)Math.Floor((now + window - next) / interval), (long)Math.Ceiling(next - now), 0);
            }
        }
    }

    private void Sweep(long now)
    {
        foreach (var (key, tat) in _local)
        {
            if (tat < now)
            {
                _local.TryRemove(key, out _);
            }
        }
    }

    /// <summary>A refusal's reset time is when the next request is admitted, so Retry-After equals its t.</summary>
    private static RateLimitDecision Decision(bool allowed, long remaining, long resetMs, long retryMs) =>
        allowed
            ? new(true, (int)Math.Max(0, remaining), Seconds(resetMs), 0)
            : new(false, 0, Math.Max(1, Seconds(retryMs)), Math.Max(1, Seconds(retryMs)));

    private static int Seconds(long milliseconds) => (int)Math.Ceiling(Math.Max(0, milliseconds) / 1000.0);

    private void Degraded(Exception ex)
    {
        metrics.RateLimitFallback();
        if (Interlocked.Exchange(ref _degraded, 1) == 0)
        {
            LogDegraded(logger, ex);
        }
    }

    private void Recovered()
    {
        if (Interlocked.Exchange(ref _degraded, 0) == 1)
        {
            _local.Clear();
            LogRecovered(logger);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unreachable: rate limits are enforced per instance, in memory, until it answers again")]
    private static partial void LogDegraded(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis answers again: rate limits are shared across instances again")]
    private static partial void LogRecovered(ILogger logger);
}
