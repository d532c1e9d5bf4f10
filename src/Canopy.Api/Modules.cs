using Canopy.Alerting;
using Canopy.Fleet;
using Canopy.Identity;
using Canopy.Insights;
using Canopy.Platform.Migrations;
using Canopy.Telemetry;

namespace Canopy.Api;

/// <summary>The modules this service hosts, in one place for the host and its tests.</summary>
internal static class Modules
{
    /// <summary>Each module's SQL migrations (the platform's own are always applied first).</summary>
    public static MigrationSource[] Migrations { get; } = [IdentityModule.Migrations, FleetModule.Migrations, TelemetryModule.Migrations, AlertingModule.Migrations, InsightsModule.Migrations];
}
