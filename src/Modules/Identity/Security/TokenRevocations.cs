using System.Diagnostics.Metrics;
using Canopy.Platform.Observability;
using Canopy.Platform.Postgres;
using Canopy.Platform.Redis;
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
/// Notes are written to Redis before the change commits, so a revocation Redis cannot take is
/// refused rather than known to PostgreSQL alone, which a recovered Redis would not know.
/// </summary>
internal sealed class TokenRevocations
{
    private readonly RedisConnection _redis;
    private readonly PostgresDataSources _dataSources;
    private readonly Counter<long> _checks;

    public TokenRevocations(RedisConnection redis, PostgresDataSources dataSources, IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _redis = redis;
        _dataSources = dataSources;
        _checks = meterFactory.Create(CanopyMetrics.MeterName, CanopyMetrics.Version).CreateCounter<long>(
            "identity.revocation.fallbacks", "{check}",
            "Access-token revocation checks Redis could not answer, by where they were answered (postgres) or that they could not be (unavailable).");
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
    /// One Redis round trip for both notes; when Redis cannot answer, one PostgreSQL statement.
    /// Throws (<see cref="NpgsqlException"/>) when neither can: the caller fails closed.
    /// </summary>
    public async Task<bool> IsRevokedAsync(Guid tenantId, string jti, Guid member, int version, CancellationToken cancellationToken)
    {
        try
        {
            var values = await _redis.ExecuteAsync("MGET", db => db.StringGetAsync([TokenKey(jti), MemberKey(member)])).ConfigureAwait(false);
            return values[0].HasValue || (values[1].HasValue && (int)values[1] > version);
        }
        catch (Exception ex) when (RedisUnavailableException.Is(ex))
        {
            try
            {
                var revoked = await IsRevokedInDatabaseAsync(tenantId, jti, member, version, cancellationToken).ConfigureAwait(false);
                _checks.Add(1, new KeyValuePair<string, object?>("outcome", "postgres"));
                return revoked;
            }
            catch (NpgsqlException)
            {
                _checks.Add(1, new KeyValuePair<string, object?>("outcome", "unavailable"));
                throw;
            }
        }
    }

    private async Task<bool> IsRevokedInDatabaseAsync(Guid tenantId, string jti, Guid member, int version, CancellationToken cancellationToken)
    {
        await using var tx = await PostgresTransaction.BeginAsync(_dataSources.Primary, tenantId, cancellationToken).ConfigureAwait(false);
        await using var command = tx.Command("""
            SELECT EXISTS (SELECT 1 FROM identity.blocked_access_tokens WHERE tenant_id = $1 AND jti = $2 AND expires_at > now())
                OR NOT EXISTS (SELECT 1 FROM identity.memberships WHERE id = $3 AND NOT is_deleted AND version <= $4)
            """, tenantId, jti, member, version);
        var revoked = (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return revoked;
    }
}
