using System.Security.Cryptography;
using System.Text;

namespace Canopy.Identity.Security;

/// <summary>Random single-purpose tokens (refresh, invitation); only their SHA-256 is stored.</summary>
internal static class OpaqueTokens
{
    public static string New(string prefix) => prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
