using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Canopy.Identity.Security;

/// <summary>
/// Personal data at rest: AES-256-GCM under a key id (stored in front of the ciphertext, so a
/// rotated-out key still decrypts), and a keyed blind index (HMAC-SHA256 of the normalised
/// e-mail) to find an account by e-mail without ever storing the address in clear.
/// </summary>
internal sealed class PiiProtector
{
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    private readonly Dictionary<string, byte[]> _keys;
    private readonly string _activeKeyId;
    private readonly byte[] _indexKey;

    public PiiProtector(IOptions<IdentityOptions> options)
    {
        var settings = options.Value;
        _keys = settings.PiiKeys.ToDictionary(k => k.Key, k => Key(k.Value, $"Identity__PiiKeys__{k.Key}", exactly: 32), StringComparer.Ordinal);
        _activeKeyId = settings.ActivePiiKey;
        if (!_keys.ContainsKey(_activeKeyId))
        {
            throw new OptionsValidationException(IdentityOptions.Section, typeof(IdentityOptions), [$"Identity__ActivePiiKey '{_activeKeyId}' is not among Identity__PiiKeys__*."]);
        }

        _indexKey = Key(settings.BlindIndexKey, "Identity__BlindIndexKey", exactly: null);
    }

    /// <summary>The blind index of an e-mail address: equal for addresses that differ only in case or surrounding space.</summary>
    public byte[] EmailIndex(string email) => HMACSHA256.HashData(_indexKey, Encoding.UTF8.GetBytes(NormaliseEmail(email)));

    public static string NormaliseEmail(string email) => email.Trim().ToUpperInvariant();

    public byte[] Encrypt(string plaintext)
    {
        var kid = Encoding.ASCII.GetBytes(_activeKeyId);
        var data = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[1 + kid.Length + NonceBytes + TagBytes + data.Length];
        output[0] = checked((byte)kid.Length);
        kid.CopyTo(output, 1);
        var nonce = output.AsSpan(1 + kid.Length, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        var tag = output.AsSpan(1 + kid.Length + NonceBytes, TagBytes);
        var cipher = output.AsSpan(1 + kid.Length + NonceBytes + TagBytes);
        using var aes = new AesGcm(_keys[_activeKeyId], TagBytes);
        // The key id is authenticated too: a ciphertext cannot be relabelled to another key.
        aes.Encrypt(nonce, data, cipher, tag, kid);
        return output;
    }

    public string Decrypt(byte[] stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var kidLength = stored[0];
        var kid = stored.AsSpan(1, kidLength);
        var keyId = Encoding.ASCII.GetString(kid);
        if (!_keys.TryGetValue(keyId, out var key))
        {
            throw new CryptographicException($"No personal-data key '{keyId}' is configured (Identity__PiiKeys__{keyId}).");
        }

        var nonce = stored.AsSpan(1 + kidLength, NonceBytes);
        var tag = stored.AsSpan(1 + kidLength + NonceBytes, TagBytes);
        var cipher = stored.AsSpan(1 + kidLength + NonceBytes + TagBytes);
        var plain = new byte[cipher.Length];
        using var aes = new AesGcm(key, TagBytes);
        aes.Decrypt(nonce, cipher, tag, plain, kid);
        return Encoding.UTF8.GetString(plain);
    }

    /// <summary>The key id a stored value was encrypted under.</summary>
    public static string KeyIdOf(byte[] stored) => Encoding.ASCII.GetString(stored, 1, stored[0]);

    private static byte[] Key(string base64, string name, int? exactly)
    {
        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new OptionsValidationException(IdentityOptions.Section, typeof(IdentityOptions), [$"{name} is not base64."]);
        }

        if (exactly is { } length ? key.Length != length : key.Length < 32)
        {
            throw new OptionsValidationException(IdentityOptions.Section, typeof(IdentityOptions),
                [$"{name} must be base64 of {(exactly is null ? "at least 32" : exactly.Value.ToString(System.Globalization.CultureInfo.InvariantCulture))} random bytes."]);
        }

        return key;
    }
}
