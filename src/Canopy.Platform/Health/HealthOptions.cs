using System.ComponentModel.DataAnnotations;

namespace Canopy.Platform.Health;

/// <summary>Thresholds of the readiness checks.</summary>
public sealed class HealthOptions
{
    public const string Section = "Health";

    /// <summary>A dependency that has not answered within this time fails its check.</summary>
    [Range(50, 30_000)]
    public int CheckTimeoutMilliseconds { get; set; } = 1_000;

    /// <summary>A dependency that answers, but slower than this, warns.</summary>
    [Range(1, 30_000)]
    public int SlowResponseMilliseconds { get; set; } = 250;

    /// <summary>
    /// A report younger than this is answered again instead of re-checking, and concurrent
    /// probes share one check: a flood of unauthenticated probes cannot drain the pool.
    /// </summary>
    [Range(0, 60_000)]
    public int CacheMilliseconds { get; set; } = 1_000;

    /// <summary>Share of the connection pool in use from which the pool check warns.</summary>
    [Range(0.1, 1.0)]
    public double PoolWarnRatio { get; set; } = 0.8;

    /// <summary>A streaming replica whose replay is further behind than this warns (the staleness report reads accept).</summary>
    [Range(1, 3_600)]
    public int ReplicaLagWarnSeconds { get; set; } = 30;
}
