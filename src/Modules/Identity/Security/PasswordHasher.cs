using Microsoft.Extensions.Options;

namespace Canopy.Identity.Security;

/// <summary>
/// Hashes and verifies passwords with Argon2id at the configured cost. Each run takes ~80 ms of
/// CPU and 64 MiB, so at most one per core runs at a time; a burst of sign-ins queues here
/// instead of exhausting memory. Callers never hold a connection or a row lock while waiting.
/// </summary>
internal sealed class PasswordHasher : IDisposable
{
    private readonly ulong _opsLimit;
    private readonly nuint _memLimit;
    private readonly Lazy<string> _decoy;
    private readonly SemaphoreSlim _gate = new(Environment.ProcessorCount, Environment.ProcessorCount);

    public PasswordHasher(IOptions<IdentityOptions> options)
    {
        var cost = options.Value.PasswordHashing;
        _opsLimit = cost.OpsLimit;
        _memLimit = (nuint)cost.MemLimitBytes;
        // Verified against when there is no hash to check (unknown e-mail, locked account), so
        // every answer costs the same time.
        _decoy = new Lazy<string>(() => Sodium.HashPassword(Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)), _opsLimit, _memLimit));
    }

    public Task<string> HashAsync(string password, CancellationToken cancellationToken) =>
        GatedAsync(() => Sodium.HashPassword(password, _opsLimit, _memLimit), cancellationToken);

    /// <summary>With no hash, verifies against a decoy and answers false.</summary>
    public Task<bool> VerifyAsync(string? hash, string password, CancellationToken cancellationToken) =>
        GatedAsync(() => hash is null ? Sodium.Verify(_decoy.Value, password) && false : Sodium.Verify(hash, password), cancellationToken);

    public bool NeedsRehash(string hash) => Sodium.NeedsRehash(hash, _opsLimit, _memLimit);

    public void Dispose() => _gate.Dispose();

    private async Task<T> GatedAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return work();
        }
        finally
        {
            _gate.Release();
        }
    }
}
