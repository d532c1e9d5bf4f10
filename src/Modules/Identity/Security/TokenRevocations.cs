using System.Diagnostics.Metrics;
using Canopy.Platform.Observability;
using Canopy.Platform.Postgres;
using Canopy.Platform.Redis;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace Canopy.Identity.Security;

/// <summary>
/// Access tokens live at most 15 minutes and are not stored, so revoking one early is a note in
/// Redis that outlives it: a blocked token id (sign-out, erasure), or the membership version from
/// which tokens are valid again (role change, removal, erasure). Each note expires with the last
/// token it could concern. PostgreSQL holds the same facts in the transaction that makes them
/// (<c>identity.blocked_access_tokens</c>, <c>identity.memberships.version</c>), so a check
/// Redis cannot answer is answered there: signed-in requests keep working while Redis is down.
/// A Redis that lost its data (flushed, or restarted without persistence) would answer "not
/// revoked" for everything: a marker key without expiry, read with the notes, tells it apart.
/// A Redis that lost only its latest writes (restarted from a snapshot, or a replica promoted
/// while it lagged) keeps an old marker: the marker is stamped anew whenever the connection comes
/// back. While the marker is missing or younger than a token's lifetime, a token Redis finds
/// unrevoked is checked in PostgreSQL too. Notes are written to Redis before the change commits, so a
/// revocation Redis cannot take is refused rather than known to PostgreSQL alone.
/// </summary>
internal sealed class TokenRevocations
{
    private static readonly RedisKey MarkerKey = "identity:revocations-kept-since";
    private readonly RedisConnection _redis;
    private readonly PostgresDataSources _dataSources;
    private readonly TimeProvider _time;
    private readonly TimeSpan _tokenLifetime;
    private readonly Counter<long> _checks;
    private int _restamp;

    public TokenRevocations(RedisConnection redis, PostgresDataSources dataSources, TimeProvider time, IOptions<IdentityOptions> options, IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meterFactory);
        _redis = redis;
        _dataSources = dataSources;
        _time = time;
        _tokenLifetime = TimeSpan.FromMinutes(options.Value.AccessTokenMinutes);
        redis.Reconnected += (_, _) => Volatile.Write(ref _restamp, 1);
        _checks = meterFactory.Create(CanopyMetrics.MeterName, CanopyMetrics.Version).CreateCounter<long>(
            "identity.revocation.fallbacks", "{check}",
            "Access-token revocation checks answered by PostgreSQL, by why: Redis unavailable (postgres), Redis lately emptied (redis_emptied), or neither answering (unavailable).");
    }

    private static RedisKey TokenKey(string jti) => "identity:revoked-token:" + jti;

    private static RedisKey MemberKey(Guid member) => "identity:member-version:" + member.ToString("N");

    /// <summary>Blocks a token until it expires: a row in the change's transaction, then the note; throws when Redis cannot take it (roll back).</summary>
    public async Task BlockTokenAsync(PostgresTransaction tx, Guid tenantId, string jti, DateTimeOffset expires, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tx);
        var ttl = expires - now;
        if (ttl <= TimeSpan.Zero)
        {
            return;
        }

        await tx.ExecuteAsync("""
            WITH expired AS (DELETE FROM identity.blocked_access_tokens WHERE tenant_id = $1 AND expires_at <= $4)
            INSERT INTO identity.blocked_access_tokens (tenant_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
            """, cancellationToken, tenantId, jti, expires, now).ConfigureAwait(false);
        await _redis.ExecuteAsync("SET", db => db.StringSetAsync(TokenKey(jti), "1", ttl)).ConfigureAwait(false);
    }

    /// <summary>Tokens carrying an older membership version stop working (the new version is in the change's transaction already).</summary>
    public Task RequireMembershipVersionAsync(Guid member, int version, TimeSpan tokenLifetime) =>
        _redis.ExecuteAsync("SET", db => db.StringSetAsync(MemberKey(member), version, tokenLifetime));

    /// <summary>
    /// One Redis round trip for both notes and the marker; PostgreSQL when Redis cannot answer,
    /// or when it may have lost notes. Throws (<see cref="NpgsqlException"/>) when neither can
    /// answer: the caller fails closed.
    /// </summary>
    public async Task<bool> IsRevokedAsync(Guid tenantId, string jti, Guid member, int version, CancellationToken cancellationToken)
    {
        string outcome;
        try
        {
            var values = await _redis.ExecuteAsync("MGET", db => db.StringGetAsync([TokenKey(jti), MemberKey(member), MarkerKey])).ConfigureAwait(false);
            if (values[0].HasValue || (values[1].HasValue && (int)values[1] > version))
            {
                return true;
            }

            var now = _time.GetUtcNow();
            var reconnected = Interlocked.Exchange(ref _restamp, 0) == 1;
            // (A missing value parses as 0: ask whether it is there first.)
            if (!reconnected && !values[2].IsNull && values[2].TryParse(out long since) && now - DateTimeOffset.FromUnixTimeMilliseconds(since) >= _tokenLifetime)
            {
                return false;
            }

            if (reconnected || values[2].IsNull)
            {
                // From now on Redis takes every note again; those it lost live in PostgreSQL until
                // the marker is a token's lifetime old. After a reconnection the marker is replaced
                // (this Redis may be older than its marker), otherwise only made if still missing.
                try
                {
                    await _redis.ExecuteAsync("SET", db => db.StringSetAsync(MarkerKey, now.ToUnixTimeMilliseconds(), when: reconnected ? When.Always : When.NotExists))
                        .ConfigureAwait(false);
                }
                catch when (reconnected)
                {
                    Volatile.Write(ref _restamp, 1); // stamped by the next check instead
                    throw;
                }
            }

            outcome = "redis_emptied";
        }
        catch (Exception ex) when (RedisUnavailableException.Is(ex))
        {
            outcome = "postgres";
        }

        try
        {
            var revoked = await IsRevokedInDatabaseAsync(tenantId, jti, member, version, cancellationToken).ConfigureAwait(false);
            _checks.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
            return revoked;
        }
        catch (NpgsqlException)
        {
            _checks.Add(1, new KeyValuePair<string, object?>("outcome", "unavailable"));
            throw;
        }
    }

    private async Task<bool> IsRevokedInDatabaseAsync(Guid tenantId, string jti, Guid member, int version, CancellationToken cancellationToken)
    {
        // The service's clock, not the database's, decides expiry, as it does for the token itself.
        var rows = await PostgresTransaction.ReadAsync(_dataSources.Primary, tenantId, """
            SELECT EXISTS (SELECT 1 FROM identity.blocked_access_tokens WHERE tenant_id = $1 AND jti = $2 AND expires_at > $5)
                OR NOT EXISTS (SELECT 1 FROM identity.memberships WHERE id = $3 AND NOT is_deleted AND version <= $4)
            """, r => r.GetBoolean(0), cancellationToken, tenantId, jti, member, version, _time.GetUtcNow()).ConfigureAwait(false);
        return rows[0];
    }
}
