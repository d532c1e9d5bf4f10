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
