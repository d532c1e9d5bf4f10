using Canopy.Platform.Redis;
using StackExchange.Redis;

namespace Canopy.Identity.Security;

/// <summary>
/// Access tokens live at most 15 minutes and are not stored, so revoking one early is a note in
/// Redis that outlives it: a blocked token id (sign-out), or the membership version from which
/// tokens are valid again (role change, removal, erasure). Each note expires with the last token
/// it could concern.
/// </summary>
internal sealed class TokenRevocations(RedisConnection redis)
{
    private static RedisKey TokenKey(string jti) => "identity:revoked-token:" + jti;

    private static RedisKey MemberKey(Guid member) => "identity:member-version:" + member.ToString("N");

    public Task BlockTokenAsync(string jti, DateTimeOffset expires, DateTimeOffset now)
    {
        var ttl = expires - now;
        return ttl <= TimeSpan.Zero
            ? Task.CompletedTask
            : redis.ExecuteAsync("SET", db => db.StringSetAsync(TokenKey(jti), "1", ttl));
    }

    /// <summary>Tokens carrying an older membership version stop working.</summary>
    public Task RequireMembershipVersionAsync(Guid member, int version, TimeSpan tokenLifetime) =>
        redis.ExecuteAsync("SET", db => db.StringSetAsync(MemberKey(member), version, tokenLifetime));

    /// <summary>One round trip for both notes. Throws when Redis cannot answer (the caller fails closed).</summary>
    public async Task<bool> IsRevokedAsync(string jti, Guid member, int version)
    {
        var values = await redis.ExecuteAsync("MGET", db => db.StringGetAsync([TokenKey(jti), MemberKey(member)])).ConfigureAwait(false);
        return values[0].HasValue || (values[1].HasValue && (int)values[1] > version);
    }
}
