using Microsoft.Extensions.Options;

namespace Canopy.Identity.Security;

/// <summary>Hashes and verifies passwords with Argon2id at the configured cost.</summary>
internal sealed class PasswordHasher
{
    private readonly ulong _opsLimit;
    private readonly nuint _memLimit;
    private readonly Lazy<string> _decoy;

    public PasswordHasher(IOptions<IdentityOptions> options)
    {
        var cost = options.Value.PasswordHashing;
        _opsLimit = cost.OpsLimit;
        _memLimit = (nuint)cost.MemLimitBytes;
        // Verified against when the e-mail matches no account, so both answers take as long.
        _decoy = new Lazy<string>(() => Hash(Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24))));
    }

    public string Hash(string password) => Sodium.HashPassword(password, _opsLimit, _memLimit);

    public bool Verify(string? hash, string password)
    {
        if (hash is null)
        {
            Sodium.Verify(_decoy.Value, password);
            return false;
        }

        return Sodium.Verify(hash, password);
    }

    public bool NeedsRehash(string hash) => Sodium.NeedsRehash(hash, _opsLimit, _memLimit);
}
