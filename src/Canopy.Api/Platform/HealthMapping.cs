using Canopy.Contracts;
using Canopy.Platform.Health;

namespace Canopy.Api.Platform;

/// <summary>Translates the platform's readiness report into the spec's health document.</summary>
internal static class HealthMapping
{
    public static Readiness ToContract(ReadinessReport report) => new()
    {
        Status = ToContract(report.Status),
        Checks = report.Checks
            .GroupBy(c => c.Name)
            .ToDictionary(
                g => g.Key,
                g => g.Select(ToContract).ToList()),
    };

    private static HealthCheckResult ToContract(HealthCheckOutcome outcome) => new()
    {
        ComponentType = outcome.ComponentType,
        Status = ToContract(outcome.Status),
        Time = outcome.Time,
        ObservedValue = outcome.ObservedValue,
        ObservedUnit = outcome.ObservedUnit,
        Output = outcome.Output,
    };

    private static HealthStatus ToContract(HealthState state) => state switch
    {
        HealthState.Pass => HealthStatus.Pass,
        HealthState.Warn => HealthStatus.Warn,
        HealthState.Fail => HealthStatus.Fail,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Unknown health state."),
    };
}
