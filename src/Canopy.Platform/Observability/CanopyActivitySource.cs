using System.Diagnostics;

namespace Canopy.Platform.Observability;

/// <summary>Canopy's own spans (workers, jobs, event deliveries), exported with the instrumentation packages' spans.</summary>
public static class CanopyActivitySource
{
    public const string Name = "Canopy";

    public static readonly ActivitySource Instance = new(Name, CanopyMetrics.Version);
}
