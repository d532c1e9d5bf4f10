using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Canopy.Platform.Security;

/// <summary>
/// ES256 keys by key id, read from configuration once: the active one signs, all of them verify
/// (rotation: add the new key, make it active, remove the old one once the last token it signed
/// has expired). A missing, malformed or non-P-256 key stops the service with the setting's name.
/// </summary>
public class Es256KeyRing : IDisposable
{
    private readonly Dictionary<string, ECDsa> _keys = new(StringComparer.Ordinal);

    /// <param name="section">The options section, for the validation error.</param>
    /// <param name="optionsType">The options class, for the validation error.</param>
    /// <param name="keysSetting">The environment name of the key dictionary, e.g. <c>Identity__SigningKeys</c>.</param>
    /// <param name="activeSetting">The environment name of the active key id.</param>
    /// <param name="keys">The configured keys by key id.</param>
    /// <param name="activeKey">The id of the key that signs.</param>
    protected Es256KeyRing(string section, Type optionsType, string keysSetting, string activeSetting, IReadOnlyDictionary<string, string> keys, string activeKey)
    {
        ArgumentNullException.ThrowIfNull(keys);
        foreach (var (kid, value) in keys)
        {
            _keys[kid] = Import(section, optionsType, $"{keysSetting}__{kid}", value);
        }

        if (!_keys.TryGetValue(activeKey, out var active))
        {
            throw new OptionsValidationException(section, optionsType, [$"{activeSetting} '{activeKey}' is not among {keysSetting}__*."]);
        }

        // The library caches signature providers by key thumbprint, process-wide by default; a
        // cache of this ring's own never hands out a provider whose key another ring disposed.
        var providers = new CryptoProviderFactory();
        Signing = new SigningCredentials(new ECDsaSecurityKey(active) { KeyId = activeKey, CryptoProviderFactory = providers }, SecurityAlgorithms.EcdsaSha256);
        Verification = _keys.Select(k => (SecurityKey)new ECDsaSecurityKey(ECDsa.Create(k.Value.ExportParameters(false))) { KeyId = k.Key, CryptoProviderFactory = providers }).ToList();
    }

    public SigningCredentials Signing { get; }

    /// <summary>Public keys only.</summary>
    public IReadOnlyList<SecurityKey> Verification { get; }

    /// <summary>The public halves by key id.</summary>
    protected IEnumerable<(string KeyId, ECParameters PublicKey)> PublicParameters() => _keys.Select(k => (k.Key, k.Value.ExportParameters(false)));

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }

        foreach (var key in _keys.Values)
        {
            key.Dispose();
        }
    }

    private static ECDsa Import(string section, Type optionsType, string setting, string value)
    {
        var key = ECDsa.Create();
        try
        {
            // PEM ("-----BEGIN PRIVATE KEY-----" or "EC PRIVATE KEY"), or base64 of the PKCS#8 DER
            // for environments where a multi-line value is awkward.
            if (value.TrimStart().StartsWith("-----BEGIN", StringComparison.Ordinal))
            {
                key.ImportFromPem(value.Replace("\\n", "\n", StringComparison.Ordinal));
            }
            else
            {
                key.ImportPkcs8PrivateKey(Convert.FromBase64String(value), out _);
            }
        }
        catch (ArgumentException)
        {
            key.Dispose();
            throw new OptionsValidationException(section, optionsType, [$"{setting} is not a PEM EC private key."]);
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            key.Dispose();
            throw new OptionsValidationException(section, optionsType, [$"{setting} is neither PEM nor base64 of a PKCS#8 EC private key."]);
        }

        if (key.KeySize != 256)
        {
            key.Dispose();
            throw new OptionsValidationException(section, optionsType, [$"{setting} is not a P-256 key."]);
        }

        return key;
    }
}

/// <summary>What every ES256 token of Canopy is, whoever issues it: only its issuer, audience and type differ.</summary>
public static class Es256Tokens
{
    /// <summary>
    /// A token created by <paramref name="handler"/> with the ring's active key, valid from now
    /// for <paramref name="lifetime"/>, with a fresh <c>jti</c> beside <paramref name="claims"/>.
    /// </summary>
    public static string Issue(
        Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler handler, Es256KeyRing keys, TimeProvider time,
        string issuer, string audience, string type, TimeSpan lifetime, Dictionary<string, object> claims)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(claims);
        var now = time.GetUtcNow();
        claims[Microsoft.IdentityModel.JsonWebTokens.JwtRegisteredClaimNames.Jti] = Guid.CreateVersion7(now).ToString();
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + lifetime).UtcDateTime,
            TokenType = type,
            SigningCredentials = keys.Signing,
            Claims = claims,
        });
    }

    /// <summary>
    /// Exactly one algorithm (ES256), the given type, a known key id, this issuer and audience,
    /// and a lifetime checked against the service's clock: valid from nbf, invalid from exp on.
    /// </summary>
    public static TokenValidationParameters ValidationParameters(Es256KeyRing keys, TimeProvider time, string issuer, string audience, string type)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(time);
        return new()
        {
            ValidIssuer = issuer,
            ValidAudience = audience,
            IssuerSigningKeys = keys.Verification,
            ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
            ValidTypes = [type],
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            TryAllIssuerSigningKeys = false,
            ValidateIssuerSigningKey = true,
            ClockSkew = TimeSpan.Zero,
            LifetimeValidator = (notBefore, expires, _, _) =>
            {
                var now = time.GetUtcNow().UtcDateTime;
                return expires is { } exp && now < exp && (notBefore is not { } nbf || nbf <= now);
            },
            NameClaimType = Microsoft.IdentityModel.JsonWebTokens.JwtRegisteredClaimNames.Sub,
        };
    }
}
