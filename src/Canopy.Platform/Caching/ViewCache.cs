using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Canopy.Platform.Observability;
using Canopy.Platform.Redis;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Canopy.Platform.Caching;

/// <summary>
/// Cache-aside for view models in Redis, shared by every instance. Views live in a scope (for
/// example one tenant's alert views) with a generation number: invalidating the scope moves it
/// to the next generation in one command, so every view of the scope is rebuilt on its next
/// read, and a rebuild that started before the invalidation lands in the old generation, where
/// nobody reads it. A missing view is rebuilt by one caller only, under a lock (SET NX PX, a
/// token of its own, released by a script only by its holder); the others wait for its result
/// and read it. Values expire after their TTL plus a random jitter of up to a tenth of it (up to
/// a second for TTLs under 10 s), so views built together do
/// not expire together; an absent result (null) is cached too, briefly, so a burst for something
/// that does not exist reaches the database once. When Redis cannot answer, views are built
/// from the database for each caller, uncached: slower, never an error.
/// </summary>
public sealed partial class ViewCache
{
    /// <summary>How long an absent result is remembered.</summary>
    public static readonly TimeSpan AbsentTtl = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan LockTtl = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    // KEYS: the scope's generation key. ARGV: the view's key before and after its generation.
    // Answers the generation and the view's entry in it (nil when missing). The view's key shares
    // the scope's hash tag, so both live in one slot should Redis become a cluster.
    private const string ReadScript = """
        local g = redis.call('GET', KEYS[1]) or '0'
        return {g, redis.call('GET', ARGV[1] .. g .. ARGV[2])}
        """;

    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    private readonly RedisConnection _redis;
    private readonly ILogger<ViewCache> _logger;
    private readonly JsonSerializerOptions _json;
    private readonly Counter<long> _lookups;
    private readonly Counter<long> _rebuilds;
    private readonly Histogram<double> _rebuildDuration;

    public ViewCache(RedisConnection redis, IOptions<JsonOptions> json, IMeterFactory meterFactory, ILogger<ViewCache> logger)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(json);
        _redis = redis;
        _json = json.Value.JsonSerializerOptions;
        _logger = logger;
        var meter = meterFactory.Create(CanopyMetrics.MeterName, CanopyMetrics.Version);
        _lookups = meter.CreateCounter<long>("cache.lookups", "{lookup}", "View-model reads, by view and outcome (hit, absent_hit: a cached absence, miss, unavailable: Redis could not answer).");
        _rebuilds = meter.CreateCounter<long>("cache.rebuilds", "{rebuild}",
            "View models built from the database, by view and outcome (cached; uncached: Redis could not answer or the lock holder was too slow; failed).");
        _rebuildDuration = meter.CreateHistogram<double>("cache.rebuild.duration", "s", "Time to build a view model from the database.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5] });
    }

    /// <summary>The key of a scope's generation; scopes name their own hash tag (<c>{…}</c>) so a scope's keys share a slot.</summary>
    private static string GenerationKey(string scope) => scope + ":gen";

    private static string ViewKey(string scope, string generation, string name) => $"{scope}:v{generation}:{name}";

    /// <summary>
    /// The view <paramref name="name"/> of <paramref name="scope"/> as the JSON an answer carries
    /// (serialised once, when built, with the API's JSON settings; a hit is served as stored): from
    /// the cache, or built by <paramref name="build"/> (null: it does not exist, answered null) and
    /// cached for <paramref name="ttl"/>. <paramref name="view"/> labels the metrics (a few values, never an id).
    /// </summary>
    public async Task<string?> GetOrBuildAsync<T>(string scope, string name, string view, TimeSpan ttl, Func<CancellationToken, Task<T?>> build, CancellationToken cancellationToken)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(build);
        string generation;
        try
        {
            var (found, entry) = await ReadAsync(scope, name).ConfigureAwait(false);
            generation = found;
            if (entry is { } hit)
            {
                Lookup(view, hit.Length == 0 ? "absent_hit" : "hit");
                return Decode(hit);
            }
        }
        catch (Exception ex) when (RedisUnavailableException.Is(ex) || ex is RedisException)
        {
            Lookup(view, "unavailable");
            return Decode(Encode(await BuildAsync(view, "uncached", build, cancellationToken).ConfigureAwait(false)));
        }

        Lookup(view, "miss");
        var key = ViewKey(scope, generation, name);
        var lockKey = key + ":lock";
        var token = Guid.NewGuid().ToString("N");
        var deadline = Stopwatch.GetTimestamp() + (long)(LockTtl.TotalSeconds * Stopwatch.Frequency);
        try
        {
            while (true)
            {
                if (await _redis.ExecuteAsync("SET view.lock", db => db.StringSetAsync(lockKey, token, LockTtl, When.NotExists)).ConfigureAwait(false))
                {
                    // The previous holder may have stored the view between our miss and our lock.
                    if (await _redis.ExecuteAsync("GET view", async db => (string?)await db.StringGetAsync(key).ConfigureAwait(false)).ConfigureAwait(false) is { } stored)
                    {
                        await ReleaseAsync(view, lockKey, token).ConfigureAwait(false);
                        return Decode(stored);
                    }

                    return await BuildAndStoreAsync(view, key, lockKey, token, ttl, build, cancellationToken).ConfigureAwait(false);
                }

                // Someone else builds it: wait for the result, or for the lock to go (its holder
                // failed), then try again; past the lock's lifetime, build without the cache.
                while (Stopwatch.GetTimestamp() < deadline)
                {
                    await Task.Delay(Poll, cancellationToken).ConfigureAwait(false);
                    var (value, locked) = await _redis.ExecuteAsync("GET view", async db =>
                    {
                        var batch = db.CreateBatch();
                        var valueTask = batch.StringGetAsync(key);
                        var lockTask = batch.KeyExistsAsync(lockKey);
                        batch.Execute();
                        return ((string?)await valueTask.ConfigureAwait(false), await lockTask.ConfigureAwait(false));
                    }).ConfigureAwait(false);
                    if (value is not null)
                    {
                        return Decode(value);
                    }

                    if (!locked)
                    {
                        break;
                    }
                }

                if (Stopwatch.GetTimestamp() >= deadline)
                {
                    return Decode(Encode(await BuildAsync(view, "uncached", build, cancellationToken).ConfigureAwait(false)));
                }
            }
        }
        catch (Exception ex) when (RedisUnavailableException.Is(ex) || ex is RedisException)
        {
            LogUnavailable(_logger, view, ex);
            return Decode(Encode(await BuildAsync(view, "uncached", build, cancellationToken).ConfigureAwait(false)));
        }
    }

    /// <summary>Moves the scope to its next generation: each of its views is rebuilt on its next read.</summary>
    public Task InvalidateAsync(string scope) =>
        _redis.ExecuteAsync("INCR view.generation", async db =>
        {
            // No expiry: a generation that vanished would start again at 0, where old views may still be.
            return await db.StringIncrementAsync(GenerationKey(scope)).ConfigureAwait(false);
        });

    private async Task<(string Generation, string? Entry)> ReadAsync(string scope, string name)
    {
        var result = await _redis.ExecuteAsync("EVAL view.read", db => db.ScriptEvaluateAsync(ReadScript,
            [GenerationKey(scope)], [$"{scope}:v", ":" + name])).ConfigureAwait(false);
        var parts = (RedisResult[])result!;
        return ((string)parts[0]!, parts[1].IsNull ? null : (string?)parts[1]);
    }

    private async Task<string?> BuildAndStoreAsync<T>(string view, string key, string lockKey, string token, TimeSpan ttl, Func<CancellationToken, Task<T?>> build, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            var built = Encode(await BuildAsync(view, "cached", build, cancellationToken).ConfigureAwait(false));
            var lifetime = built.Length == 0 ? AbsentTtl : Jittered(ttl);
            try
            {
                await _redis.ExecuteAsync("SET view", db => db.StringSetAsync(key, built, lifetime)).ConfigureAwait(false);
            }
            catch (Exception ex) when (RedisUnavailableException.Is(ex) || ex is RedisException)
            {
                LogUnavailable(_logger, view, ex); // answered all the same, uncached
            }

            return Decode(built);
        }
        finally
        {
            await ReleaseAsync(view, lockKey, token).ConfigureAwait(false);
        }
    }

    /// <summary>Releases the lock if this caller still holds it (it may have expired and been taken by another).</summary>
    private async Task ReleaseAsync(string view, string lockKey, string token)
    {
        try
        {
            await _redis.ExecuteAsync("EVAL view.release", db => db.ScriptEvaluateAsync(ReleaseScript, [lockKey], [token])).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisUnavailableException.Is(ex) || ex is RedisException)
        {
            LogUnavailable(_logger, view, ex); // the lock expires by itself
        }
    }

    private async Task<T?> BuildAsync<T>(string view, string outcome, Func<CancellationToken, Task<T?>> build, CancellationToken cancellationToken)
        where T : class
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var built = await build(cancellationToken).ConfigureAwait(false);
            _rebuilds.Add(1, new("view", view), new("outcome", outcome));
            return built;
        }
        catch
        {
            _rebuilds.Add(1, new("view", view), new("outcome", "failed"));
            throw;
        }
        finally
        {
            _rebuildDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("view", view));
        }
    }

    /// <summary>The TTL plus up to 10 % of it (at least a second), at random.</summary>
    public static TimeSpan Jittered(TimeSpan ttl) =>
        ttl + TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * Math.Max(1000, ttl.TotalMilliseconds / 10));

    // An absence is stored as the empty string, a value as its JSON.
    private string Encode<T>(T? value) where T : class => value is null ? "" : JsonSerializer.Serialize(value, _json);

    private static string? Decode(string entry) => entry.Length == 0 ? null : entry;

    private void Lookup(string view, string outcome) => _lookups.Add(1, new("view", view), new("outcome", outcome));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis could not serve the view cache for {View}; the view is built from the database")]
    private static partial void LogUnavailable(ILogger logger, string view, Exception exception);
}
