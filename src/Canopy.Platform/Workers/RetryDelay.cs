namespace Canopy.Platform.Workers;

/// <summary>The one retry-delay rule of the platform: exponential from a first delay, capped, with ±20 % jitter.</summary>
public static class RetryDelay
{
    public static TimeSpan Exponential(int attempt, TimeSpan first, TimeSpan max)
    {
        var exponential = first.TotalMilliseconds * Math.Pow(2, Math.Clamp(attempt - 1, 0, 30));
        return TimeSpan.FromMilliseconds(Math.Min(exponential, max.TotalMilliseconds) * (0.8 + (Random.Shared.NextDouble() * 0.4)));
    }
}

/// <summary>Identifies the holder of a lease (a worker or relay of one process start).</summary>
public static class LeaseOwner
{
    public static string New() => $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";
}
