using System.Text.Json;
using Canopy.Platform.Messaging;
using Canopy.Platform.Redis;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;

namespace Canopy.Platform.Idempotency;

/// <summary>A response kept for replay: status, the headers that matter, and the body byte for byte.</summary>
public sealed record StoredResponse(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body);

public enum BeginOutcome
{
    Proceed,
    InFlight,
    Reused,
    Replay,
}

public sealed record Begin(BeginOutcome Outcome, StoredResponse? Response = null, bool Locked = false);

/// <summary>
/// Where idempotency keys live: Redis for the fast path (an atomic in-flight lock, then the
/// stored response for 24 hours) and PostgreSQL as the guard that survives a Redis flush or
/// outage (a row claimed in the transaction of the effect, the response added once known).
/// </summary>
public sealed partial class IdempotencyStore(RedisConnection redis, NpgsqlDataSource dataSource, ILogger<IdempotencyStore> logger)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);

    // The in-flight lock outlives the longest request (30 s timeout) with a margin.
    private static readonly TimeSpan LockTime = TimeSpan.FromSeconds(60);

    private const string BeginScript = """
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
        return redis.call('GET', KEYS[1])
        """;

    /// <summary>
    /// The fast path: one Redis round trip. When Redis has forgotten the key (flush) or cannot
    /// answer, the request proceeds and the claim in the effect's transaction is the guard
    /// (<see cref="IdempotencyClaims"/>), which replays the answer kept in PostgreSQL.
    /// </summary>
    public async Task<Begin> BeginAsync(byte[] scope, byte[] fingerprint, CancellationToken cancellationToken)
    {
        try
        {
            var existing = await redis.ExecuteAsync("EVAL idempotency", db => db.ScriptEvaluateAsync(BeginScript, [Key(scope)],
                [InFlightMarker(fingerprint), (long)LockTime.TotalMilliseconds])).ConfigureAwait(false);
            if (existing.IsNull)
            {
                return new Begin(BeginOutcome.Proceed, Locked: true);
            }

            var entry = JsonSerializer.Deserialize<Entry>((string)existing!)!;
            return entry.Fp != Convert.ToHexString(fingerprint) ? new Begin(BeginOutcome.Reused)
                : entry.S == "f" ? new Begin(BeginOutcome.InFlight)
                : new Begin(BeginOutcome.Replay, entry.ToResponse());
        }
        catch (Exception ex) when (Canopy.Platform.Redis.RedisUnavailableException.Is(ex))
        {
            LogRedisDown(logger, ex);
            return new Begin(BeginOutcome.Proceed);
        }
    }

    /// <summary>
    /// Keeps a 2XX or 4XX answer for replay: in Redis always, and in the key's PostgreSQL row when
    /// the operation claimed one with its effect (an answer without an effect can simply be
    /// given again if Redis forgets it).
    /// </summary>
    public async Task CompleteAsync(byte[] scope, byte[] fingerprint, string operationId, string? tenant, StoredResponse response, bool claimed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (!claimed)
        {
            await RememberAsync(scope, fingerprint, response).ConfigureAwait(false);
            return;
        }

        var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, cancellationToken).ConfigureAwait(false);
        await using (connection)
        await using (transaction)
        {
            await using var upsert = new NpgsqlCommand("""
                INSERT INTO platform.idempotency_keys (scope_hash, tenant_id, operation, fingerprint, status, headers, body, created_at, expires_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now() + $8)
                ON CONFLICT (scope_hash) DO UPDATE SET status = EXCLUDED.status, headers = EXCLUDED.headers, body = EXCLUDED.body
                 WHERE idempotency_keys.fingerprint = EXCLUDED.fingerprint
                """, connection, transaction);
            upsert.Parameters.Add(new NpgsqlParameter { Value = scope, NpgsqlDbType = NpgsqlDbType.Bytea });
            upsert.Parameters.Add(new NpgsqlParameter { Value = Guid.TryParse(tenant, out var t) ? t : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
            upsert.Parameters.Add(new NpgsqlParameter { Value = operationId });
            upsert.Parameters.Add(new NpgsqlParameter { Value = fingerprint, NpgsqlDbType = NpgsqlDbType.Bytea });
            upsert.Parameters.Add(new NpgsqlParameter { Value = response.Status });
            upsert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(response.Headers), NpgsqlDbType = NpgsqlDbType.Jsonb });
            upsert.Parameters.Add(new NpgsqlParameter { Value = response.Body, NpgsqlDbType = NpgsqlDbType.Bytea });
            upsert.Parameters.Add(new NpgsqlParameter { Value = Lifetime });
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        await RememberAsync(scope, fingerprint, response).ConfigureAwait(false);
    }

    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    /// <summary>
    /// Forgets this request's in-flight lock (it failed with 5XX, or was refused by the guard),
    /// and only that: a lock or an answer written by another request stays.
    /// </summary>
    public async Task ReleaseAsync(byte[] scope, byte[] fingerprint)
    {
        try
        {
            await redis.ExecuteAsync("EVAL idempotency-release", db => db.ScriptEvaluateAsync(ReleaseScript, [Key(scope)], [InFlightMarker(fingerprint)])).ConfigureAwait(false);
        }
        catch (Exception ex) when (Canopy.Platform.Redis.RedisUnavailableException.Is(ex))
        {
            LogRedisDown(logger, ex);
        }
    }

    private async Task RememberAsync(byte[] scope, byte[] fingerprint, StoredResponse response)
    {
        try
        {
            var entry = new Entry("d", Convert.ToHexString(fingerprint), response.Status, new Dictionary<string, string>(response.Headers), Convert.ToBase64String(response.Body));
            await redis.ExecuteAsync("SET", db => db.StringSetAsync(Key(scope), JsonSerializer.Serialize(entry), Lifetime)).ConfigureAwait(false);
        }
        catch (Exception ex) when (Canopy.Platform.Redis.RedisUnavailableException.Is(ex))
        {
            LogRedisDown(logger, ex);
        }
    }

    /// <summary>The live row of a key, read in the caller's transaction.</summary>
    public static async Task<(byte[] Fingerprint, StoredResponse? Response)?> ReadAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, byte[] scope, CancellationToken cancellationToken)
    {
        await using var read = new NpgsqlCommand(
            "SELECT fingerprint, status, headers::text, body FROM platform.idempotency_keys WHERE scope_hash = $1 AND expires_at > now()", connection, transaction);
        read.Parameters.Add(new NpgsqlParameter { Value = scope, NpgsqlDbType = NpgsqlDbType.Bytea });
        await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var fingerprint = (byte[])reader[0];
        var response = reader.IsDBNull(1) ? null : new StoredResponse(
            reader.GetInt32(1), JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(2))!, (byte[])reader[3]);
        return (fingerprint, response);
    }

    /// <summary>The value of a key while its first request runs; release compares against it.</summary>
    private static string InFlightMarker(byte[] fingerprint) => JsonSerializer.Serialize(new Entry("f", Convert.ToHexString(fingerprint), null, null, null));

    private static RedisKey Key(byte[] scope) => "idempotency:" + Convert.ToHexString(scope);

    /// <summary>The Redis value: f (in flight) or d (done, with the response).</summary>
    private sealed record Entry(string S, string Fp, int? St, Dictionary<string, string>? H, string? B)
    {
        public StoredResponse ToResponse() => new(St ?? 0, H ?? [], B is null ? [] : Convert.FromBase64String(B));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unreachable: idempotency keys are checked in PostgreSQL only")]
    private static partial void LogRedisDown(ILogger logger, Exception exception);
}
