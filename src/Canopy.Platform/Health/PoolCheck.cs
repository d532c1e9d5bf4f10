using Canopy.Platform.Postgres;

namespace Canopy.Platform.Health;

/// <summary>Grades connection-pool use: pass below the warn ratio, warn from it, fail when exhausted.</summary>
public static class PoolCheck
{
    public static HealthCheckOutcome Grade(string name, PoolUsage usage, double warnRatio, DateTimeOffset time)
    {
        var (status, output) = usage switch
        {
            { Max: > 0 } when usage.InUse >= usage.Max =>
                (HealthState.Fail, $"All {usage.Max} connections of the pool are in use."),
            { Max: > 0 } when usage.Utilisation >= warnRatio =>
                (HealthState.Warn, $"{usage.InUse} of {usage.Max} connections of the pool are in use."),
            _ => (HealthState.Pass, (string?)null),
        };
        return new HealthCheckOutcome(name, "datastore", status, time, usage.InUse, "connections", output);
    }
}
