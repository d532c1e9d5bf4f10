using System.ComponentModel.DataAnnotations;

namespace Canopy.Platform.RateLimiting;

/// <summary>One tier's quota: <see cref="Limit"/> requests per <see cref="WindowSeconds"/>.</summary>
public sealed class TierQuota
{
    [Range(1, 10_000_000)]
    public int Limit { get; set; }

    [Range(1, 86_400)]
    public int WindowSeconds { get; set; }
}

/// <summary>
/// Rate-limit tiers (section <c>RateLimits</c>), named by the spec's <c>x-rate-limit-tier</c>.
/// The defaults are DESIGN.md's; each environment may override a tier
/// (<c>RateLimits__Tiers__auth__Limit=20</c>).
/// </summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    public Dictionary<string, TierQuota> Tiers { get; } = new(StringComparer.Ordinal)
    {
        ["auth"] = new() { Limit = 10, WindowSeconds = 60 },
        ["critical"] = new() { Limit = 30, WindowSeconds = 60 },
        ["standard"] = new() { Limit = 1000, WindowSeconds = 60 },
        ["reporting"] = new() { Limit = 10, WindowSeconds = 3600 },
        ["ingestion"] = new() { Limit = 500, WindowSeconds = 60 },
    };
}
