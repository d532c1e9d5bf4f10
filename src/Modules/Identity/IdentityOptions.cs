using System.ComponentModel.DataAnnotations;

namespace Canopy.Identity;

/// <summary>
/// Identity settings (section <c>Identity</c>). Keys come from the environment, never from a
/// committed file; the service refuses to start without them.
/// </summary>
public sealed class IdentityOptions
{
    public const string Section = "Identity";

    [Required(ErrorMessage = "Identity__Issuer is required.")]
    public string Issuer { get; set; } = "";

    [Required(ErrorMessage = "Identity__Audience is required.")]
    public string Audience { get; set; } = "";

    /// <summary>Access-token lifetime; at most 15 minutes.</summary>
    [Range(1, 15)]
    public int AccessTokenMinutes { get; set; } = 15;

    [Range(1, 365)]
    public int RefreshTokenDays { get; set; } = 30;

    /// <summary>Refresh tokens only work from the device fingerprint they were issued to.</summary>
    public bool BindRefreshTokensToDevice { get; set; }

    [Range(1, 30)]
    public int InvitationDays { get; set; } = 7;

    /// <summary>ES256 signing keys by key id: base64 of a PKCS#8 P-256 private key. Older keys keep verifying.</summary>
    public Dictionary<string, string> SigningKeys { get; } = [];

    /// <summary>The key id that signs new access tokens.</summary>
    [Required(ErrorMessage = "Identity__ActiveSigningKey is required.")]
    public string ActiveSigningKey { get; set; } = "";

    /// <summary>AES-256-GCM keys for personal data by key id: base64 of 32 random bytes. Older keys keep decrypting.</summary>
    public Dictionary<string, string> PiiKeys { get; } = [];

    [Required(ErrorMessage = "Identity__ActivePiiKey is required.")]
    public string ActivePiiKey { get; set; } = "";

    /// <summary>HMAC key of the e-mail blind index: base64 of at least 32 random bytes. Never rotated in place.</summary>
    [Required(ErrorMessage = "Identity__BlindIndexKey is required.")]
    public string BlindIndexKey { get; set; } = "";

    public LockoutOptions Lockout { get; set; } = new();

    public PasswordHashingOptions PasswordHashing { get; set; } = new();
}

public sealed class LockoutOptions
{
    [Range(1, 100)]
    public int MaxFailures { get; set; } = 5;

    [Range(1, 1440)]
    public int WindowMinutes { get; set; } = 15;

    [Range(1, 1440)]
    public int LockMinutes { get; set; } = 15;
}

/// <summary>Argon2id cost (libsodium <c>crypto_pwhash_str</c>); see docs/adr for the measurement.</summary>
public sealed class PasswordHashingOptions
{
    [Range(1, 10)]
    public ulong OpsLimit { get; set; } = 2;

    /// <summary>Memory in bytes (at least 8 KiB).</summary>
    [Range(8192, 1L << 31)]
    public long MemLimitBytes { get; set; } = 64L * 1024 * 1024;
}
