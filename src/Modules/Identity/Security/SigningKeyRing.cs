using System.Security.Cryptography;
using Canopy.Contracts;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Canopy.Identity.Security;

/// <summary>
/// The ES256 keys: the active one signs, all of them verify (rotation: add the new key, make it
/// active, remove the old one once the last token it signed has expired).
/// </summary>
internal sealed class SigningKeyRing : IDisposable
{
    private readonly Dictionary<string, ECDsa> _keys = new(StringComparer.Ordinal);

    public SigningKeyRing(IOptions<IdentityOptions> options)
    {
        var settings = options.Value;
        foreach (var (kid, value) in settings.SigningKeys)
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
                throw new OptionsValidationException(IdentityOptions.Section, typeof(IdentityOptions),
                    [$"Identity__SigningKeys__{kid} is not a PEM EC private key."]);
            }
            catch (Exception ex) when (ex is FormatException or CryptographicException)
            {
                key.Dispose();
                throw new OptionsValidationException(IdentityOptions.Section, typeof(IdentityOptions),
                    [$"Identity__SigningKeys__{kid} is neither PEM nor base64 of a PKCS#8 EC private key."]);
            }

            if (key.KeySize != 256)
            {
                key.Dispose();
                throw new OptionsValidationException(IdentityOptions.Section, typeof(IdentityOptions), [$"Identity__SigningKeys__{kid} is not a P-256 key."]);
            }

            _keys[kid] = key;
        }

        if (!_keys.TryGetValue(settings.ActiveSigningKey, out var active))
        {
            throw new OptionsValidationException(IdentityOptions.Section, typeof(IdentityOptions),
                [$"Identity__ActiveSigningKey '{settings.ActiveSigningKey}' is not among Identity__SigningKeys__*."]);
        }

        // The library caches signature providers by key thumbprint, process-wide by default; a
        // cache of this ring's own never hands out a provider whose key another ring disposed.
        var providers = new CryptoProviderFactory();
        Signing = new SigningCredentials(new ECDsaSecurityKey(active) { KeyId = settings.ActiveSigningKey, CryptoProviderFactory = providers }, SecurityAlgorithms.EcdsaSha256);
        Verification = _keys.Select(k => (SecurityKey)new ECDsaSecurityKey(ECDsa.Create(k.Value.ExportParameters(false))) { KeyId = k.Key, CryptoProviderFactory = providers }).ToList();
    }

    public SigningCredentials Signing { get; }

    /// <summary>Public keys only.</summary>
    public IReadOnlyList<SecurityKey> Verification { get; }

    public Contracts.JsonWebKeySet PublicKeys() => new()
    {
        Keys = _keys.Select(k =>
        {
            var p = k.Value.ExportParameters(false);
            return new Contracts.JsonWebKey
            {
                Kty = JsonWebKeyKty.EC,
                Crv = JsonWebKeyCrv.P256,
                Kid = k.Key,
                Use = JsonWebKeyUse.Sig,
                Alg = JsonWebKeyAlg.ES256,
                X = Base64UrlEncoder.Encode(p.Q.X),
                Y = Base64UrlEncoder.Encode(p.Q.Y),
            };
        }).ToList(),
    };

    public void Dispose()
    {
        foreach (var key in _keys.Values)
        {
            key.Dispose();
        }
    }
}
