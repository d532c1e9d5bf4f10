using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Canopy.Identity.Security;

/// <summary>
/// The bearer handler's token validator, remembering tokens it found valid: checking an ES256
/// signature is the largest cost of an authenticated request, and a client sends the same token
/// for up to 15 minutes. An entry lives until the token's expiry (by the service's clock) or
/// five minutes, whichever is first; the cache holds at most <see cref="Capacity"/> tokens, keyed
/// by their SHA-256. Revocation is not cached: the bearer handler's TokenValidated event still
/// asks Redis for every request.
/// </summary>
internal sealed class ValidatedTokenCache(TimeProvider time) : JsonWebTokenHandler
{
    public const int Capacity = 10_000;
    private static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, Entry> _valid = new(StringComparer.Ordinal);

    public int Count => _valid.Count;

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        ArgumentNullException.ThrowIfNull(token);
        var key = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        var now = time.GetUtcNow();
        if (_valid.TryGetValue(key, out var hit))
        {
            if (now < hit.Until)
            {
                return Copy(hit.Result);
            }

            _valid.TryRemove(key, out _);
        }

        var result = await base.ValidateTokenAsync(token, validationParameters).ConfigureAwait(false);
        if (result.IsValid && result.SecurityToken is JsonWebToken jwt)
        {
            var expires = new DateTimeOffset(DateTime.SpecifyKind(jwt.ValidTo, DateTimeKind.Utc));
            if (_valid.Count >= Capacity)
            {
                // Crude but bounded: a burst of distinct tokens starts the cache over.
                _valid.Clear();
            }

            _valid[key] = new Entry(result, expires < now + MaxAge ? expires : now + MaxAge);
        }

        return result;
    }

    /// <summary>Each request gets its own identity: the pipeline may add claims to it.</summary>
    private static TokenValidationResult Copy(TokenValidationResult cached) => new()
    {
        IsValid = true,
        ClaimsIdentity = cached.ClaimsIdentity.Clone(),
        SecurityToken = cached.SecurityToken,
        TokenType = cached.TokenType,
        Issuer = cached.Issuer,
    };

    private sealed record Entry(TokenValidationResult Result, DateTimeOffset Until);
}
