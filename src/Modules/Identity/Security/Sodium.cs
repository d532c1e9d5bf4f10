using System.Runtime.InteropServices;
using System.Text;

namespace Canopy.Identity.Security;

/// <summary>
/// Argon2id password hashing through libsodium (<c>crypto_pwhash_str</c>): no NuGet package
/// wraps it here, and libsodium23 is installed by tools/servers.sh.
/// </summary>
internal static partial class Sodium
{
    private const string Library = "libsodium.so.23";

    // crypto_pwhash_STRBYTES
    private const int HashStringBytes = 128;

    private static readonly Lazy<bool> Initialised = new(() => sodium_init() >= 0);

    public static string HashPassword(string password, ulong opsLimit, nuint memLimit)
    {
        EnsureInitialised();
        var buffer = new byte[HashStringBytes];
        var secret = Encoding.UTF8.GetBytes(password);
        if (crypto_pwhash_str(buffer, secret, (ulong)secret.LongLength, opsLimit, memLimit) != 0)
        {
            throw new InvalidOperationException("libsodium could not hash the password (out of memory?).");
        }

        return Encoding.ASCII.GetString(buffer, 0, Array.IndexOf(buffer, (byte)0));
    }

    public static bool Verify(string hash, string password)
    {
        EnsureInitialised();
        var secret = Encoding.UTF8.GetBytes(password);
        return crypto_pwhash_str_verify(NullTerminated(hash), secret, (ulong)secret.LongLength) == 0;
    }

    public static bool NeedsRehash(string hash, ulong opsLimit, nuint memLimit)
    {
        EnsureInitialised();
        return crypto_pwhash_str_needs_rehash(NullTerminated(hash), opsLimit, memLimit) != 0;
    }

    private static byte[] NullTerminated(string text)
    {
        var bytes = new byte[Encoding.ASCII.GetByteCount(text) + 1];
        Encoding.ASCII.GetBytes(text, bytes);
        return bytes;
    }

    private static void EnsureInitialised()
    {
        if (!Initialised.Value)
        {
            throw new InvalidOperationException("libsodium failed to initialise.");
        }
    }

    [LibraryImport(Library)]
    private static partial int sodium_init();

    [LibraryImport(Library)]
    private static partial int crypto_pwhash_str(byte[] output, byte[] password, ulong passwordLength, ulong opsLimit, nuint memLimit);

    [LibraryImport(Library)]
    private static partial int crypto_pwhash_str_verify(byte[] hash, byte[] password, ulong passwordLength);

    [LibraryImport(Library)]
    private static partial int crypto_pwhash_str_needs_rehash(byte[] hash, ulong opsLimit, nuint memLimit);
}
