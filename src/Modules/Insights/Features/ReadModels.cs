using System.Diagnostics.Metrics;
using System.Globalization;
using Canopy.Platform.Caching;
using Canopy.Platform.Observability;
using Canopy.Platform.Postgres;
using Canopy.Platform.Redis;
using Npgsql;

namespace Canopy.Insights.Features;

/// <summary>The families of views a tenant has; an event clears those it changes.</summary>
internal static class ViewFamily
{
    public const string Fleet = "fleet";
    public const string Alerts = "alerts";
    public const string Faults = "faults";
    public const string Trends = "trends";
}

/// <summary>
/// Where the read models are read and how their cached views are cleared. Reads go to the
/// replica pool; a read that must see an event just handled (its view was cleared by it) first
/// checks that the replica has replayed up to that event's commit, and reads the primary when it
/// has not; a replica that cannot be reached falls back to the primary too. Clearing records
/// the primary's WAL position after the commit, then moves the views' generations on
/// (<see cref="ViewCache"/>), so the next rebuild knows how fresh its source must be.
/// </summary>
internal sealed class ReadModels
{
    // KEYS: the tenant's freshness key. ARGV: a WAL position in bytes. Keeps the highest.
    private const string RaiseScript = """
        local current = tonumber(redis.call('GET', KEYS[1]) or '0')
        if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400) end
        return 1
        """;

    private readonly PostgresDataSources _dataSources;
    private readonly RedisConnection _redis;
    private readonly ViewCache _cache;
    private readonly Counter<long> _reads;

    public ReadModels(PostgresDataSources dataSources, RedisConnection redis, ViewCache cache, IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _dataSources = dataSources;
        _redis = redis;
        _cache = cache;
        _reads = meterFactory.Create(CanopyMetrics.MeterName, CanopyMetrics.Version).CreateCounter<long>("insights.reads", "{read}",
            "Read-model reads of the database, by source (replica; primary_behind: the replica had not replayed an event the view must show; primary_fallback: the replica could not be reached).");
    }

    public static string Scope(Guid tenantId, string family) => $"insights:{{{tenantId}}}:{family}";

    private static string FreshKey(Guid tenantId) => $"insights:{{{tenantId}}}:fresh-lsn";

    /// <summary>
    /// After an event's commit: the views of <paramref name="families"/> are rebuilt on their next
    /// read, from a source that has the event. The position is the WAL's insert position, not its
    /// write position: deliveries commit without waiting for the flush (synchronous_commit off),
    /// so their commit record may still be in WAL buffers, behind the write position.
    /// </summary>
    public async Task ClearAsync(Guid tenantId, IReadOnlyCollection<string> families, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await _dataSources.Primary.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var position = new NpgsqlCommand("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::text", connection);
            var lsn = (string)(await position.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            await _redis.ExecuteAsync("EVAL insights.fresh", db => db.ScriptEvaluateAsync(RaiseScript, [FreshKey(tenantId)], [lsn])).ConfigureAwait(false);
        }
        catch (NpgsqlException) when (!cancellationToken.IsCancellationRequested)
        {
            // The primary went away after the commit: the views are cleared all the same, and
            // rebuilt from the replica as it is (the primary could not answer them either).
        }

        foreach (var family in families)
        {
            await _cache.InvalidateAsync(Scope(tenantId, family)).ConfigureAwait(false);
        }
    }

    /// <summary>Runs a read-model query in the tenant's scope, on the replica when it is fresh enough and reachable, otherwise on the primary.</summary>
    public async Task<T> ReadAsync<T>(Guid tenantId, Func<PostgresTransaction, CancellationToken, Task<T>> query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        string? required;
        try
        {
            required = await _redis.ExecuteAsync("GET insights.fresh", async db => (string?)await db.StringGetAsync(FreshKey(tenantId)).ConfigureAwait(false)).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisUnavailableException.Is(ex) || ex is StackExchange.Redis.RedisException)
        {
            // Without Redis nothing is cached either: how fresh the replica must be is unknown, so the primary answers.
            return await OnPrimaryAsync(tenantId, query, "primary_fallback", cancellationToken).ConfigureAwait(false);
        }

        // Without a replica configured, the replica pool opens the primary, where the check always holds.
        PostgresTransaction? tx = null;
        try
        {
            tx = await PostgresTransaction.BeginAsync(_dataSources.Replica, tenantId, cancellationToken).ConfigureAwait(false);
            if (await FreshEnoughAsync(tx, required, cancellationToken).ConfigureAwait(false))
            {
                var answer = await query(tx, cancellationToken).ConfigureAwait(false);
                _reads.Add(1, new KeyValuePair<string, object?>("source", "replica"));
                return answer;
            }
        }
        catch (NpgsqlException ex) when (!cancellationToken.IsCancellationRequested
            && (ex is not PostgresException || ex is PostgresException { SqlState: PostgresErrorCodes.SerializationFailure }))
        {
            // Unreachable, or a query cancelled by the standby's replay (a recovery conflict).
            return await OnPrimaryAsync(tenantId, query, "primary_fallback", cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (tx is not null)
            {
                await tx.DisposeAsync().ConfigureAwait(false);
            }
        }

        return await OnPrimaryAsync(tenantId, query, "primary_behind", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether the replica has replayed the WAL up to <paramref name="required"/> (null: nothing required); a primary always has.</summary>
    private static async Task<bool> FreshEnoughAsync(PostgresTransaction tx, string? required, CancellationToken cancellationToken)
    {
        if (required is null)
        {
            return true;
        }

        await using var check = tx.Command("SELECT coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn) >= $1::numeric, true)",
            decimal.Parse(required, NumberStyles.None, CultureInfo.InvariantCulture));
        return (bool)(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private async Task<T> OnPrimaryAsync<T>(Guid tenantId, Func<PostgresTransaction, CancellationToken, Task<T>> query, string source, CancellationToken cancellationToken)
    {
        await using var tx = await PostgresTransaction.BeginAsync(_dataSources.Primary, tenantId, cancellationToken).ConfigureAwait(false);
        var answer = await query(tx, cancellationToken).ConfigureAwait(false);
        _reads.Add(1, new KeyValuePair<string, object?>("source", source));
        return answer;
    }
}
