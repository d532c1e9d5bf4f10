using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace Canopy.Fleet.Security;

/// <summary>
/// A device's credential: 256 random bits behind a recognisable prefix (so a leaked one is
/// easy to spot in logs and scanners). Only its SHA-256 is stored: with that much entropy there
/// is nothing to guess, so a slow password hash would only cost ingestion throughput.
/// </summary>
internal static class DeviceSecrets
{
    public const string Prefix = "cdc_";

    public static string New() => Prefix + WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));
}
