using System.Diagnostics;

namespace Canopy.Platform.Observability;

/// <summary>Canopy's own spans (Redis calls, workers), exported with the framework's.</summary>
public static class CanopyActivitySource
{
    public const string Name = "Canopy";

    public static readonly ActivitySource Instance = new(Name, CanopyMetrics.Version);
}
