using System.Security.Cryptography;
using System.Text;

namespace Canopy.Platform.Idempotency;

/// <summary>
/// An Idempotency-Key as sent: bare, or a structured-field string (quoted, with \" and \\
/// escapes); at most 255 characters of visible ASCII once unquoted.
/// </summary>
public static class IdempotencyKey
{
    public const int MaxLength = 255;

    public static string? Parse(string? raw)
    {
        if (string.IsNullOrEmpty(raw))
        {
            return null;
        }

        string value;
        if (raw.Length >= 2 && raw[0] == '"' && raw[^1] == '"')
        {
            var unquoted = new StringBuilder();
            for (var i = 1; i < raw.Length - 1; i++)
            {
                var c = raw[i];
                if (c == '\\')
                {
                    if (++i >= raw.Length - 1 || raw[i] is not ('"' or '\\'))
                    {
                        return null;
                    }

                    c = raw[i];
                }
                else if (c == '"')
                {
                    return null;
                }

                unquoted.Append(c);
            }

            value = unquoted.ToString();
        }
        else
        {
            value = raw;
        }

        return value.Length is > 0 and <= MaxLength && value.All(c => c is >= ' ' and <= '~') ? value : null;
    }

    /// <summary>Whose key it is: tenant, principal, operation and key, hashed (nothing readable is stored).</summary>
    public static byte[] Scope(string? tenant, string principal, string operationId, string key) =>
        SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', tenant ?? "-", principal, operationId, key)));

    /// <summary>What the request asked: method, path with query, and body.</summary>
    public static byte[] Fingerprint(string method, string pathAndQuery, ReadOnlySpan<byte> body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(method + "\n" + pathAndQuery + "\n"));
        hash.AppendData(body);
        return hash.GetHashAndReset();
    }
}
