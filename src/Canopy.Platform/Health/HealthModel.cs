namespace Canopy.Platform.Health;

/// <summary>Health status as in draft-inadarei-api-health-check: ordered from best to worst.</summary>
public enum HealthState
{
    Pass = 0,
    Warn = 1,
    Fail = 2,
}

/// <summary>The result of one readiness check, named <c>component:measurement</c>.</summary>
public sealed record HealthCheckOutcome(
    string Name,
    string ComponentType,
    HealthState Status,
    DateTimeOffset Time,
    double? ObservedValue = null,
    string? ObservedUnit = null,
    string? Output = null);

/// <summary>All readiness checks and the overall status, which is the worst of them.</summary>
public sealed record ReadinessReport(IReadOnlyList<HealthCheckOutcome> Checks)
{
    public HealthState Status => Checks.Count == 0 ? HealthState.Pass : Checks.Max(c => c.Status);

    /// <summary>The checks that fail, for logs and for the 503 answer.</summary>
    public IEnumerable<HealthCheckOutcome> Failing => Checks.Where(c => c.Status == HealthState.Fail);
}
