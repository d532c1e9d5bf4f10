using System.ComponentModel.DataAnnotations;

namespace Canopy.Platform.Redis;

/// <summary>Redis connection settings.</summary>
public sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>StackExchange.Redis configuration string, from <c>ConnectionStrings:Redis</c>.</summary>
    [Required(ErrorMessage = "ConnectionStrings__Redis is required (e.g. 127.0.0.1:6379,password=...).")]
    public string Configuration { get; set; } = "";

    /// <summary>Milliseconds a connect or a command may take.</summary>
    [Range(100, 60_000)]
    public int TimeoutMilliseconds { get; set; } = 2_000;

    /// <summary>
    /// The fewest calls within 10 s on which the circuit may open; it opens when at least half
    /// of the calls in that window found Redis unavailable.
    /// </summary>
    [Range(2, 1_000)]
    public int BreakMinimumCalls { get; set; } = 4;

    /// <summary>Seconds the open circuit skips Redis before one call tests it again.</summary>
    [Range(1, 300)]
    public int BreakSeconds { get; set; } = 5;
}
