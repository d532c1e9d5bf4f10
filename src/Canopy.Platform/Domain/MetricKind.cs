namespace Canopy.Platform.Domain;

/// <summary>
/// A quantity a device reports, with the physical range a reading or a target must lie in.
/// Shared by the modules that speak of metrics (Fleet's targets, Telemetry's readings, alert rules).
/// </summary>
public sealed record MetricKind(string Name, double Min, double Max, string Unit)
{
    public static readonly MetricKind TemperatureC = new("temperature_c", -40, 85, "°C");
    public static readonly MetricKind HumidityPct = new("humidity_pct", 0, 100, "%");
    public static readonly MetricKind SoilMoisturePct = new("soil_moisture_pct", 0, 100, "%");
    public static readonly MetricKind Co2Ppm = new("co2_ppm", 0, 10_000, "ppm");
    public static readonly MetricKind LightPpfd = new("light_ppfd", 0, 3_000, "µmol/m²/s");
    public static readonly MetricKind BatteryV = new("battery_v", 0, 15, "V");

    public static IReadOnlyList<MetricKind> All { get; } = [TemperatureC, HumidityPct, SoilMoisturePct, Co2Ppm, LightPpfd, BatteryV];

    public static MetricKind Named(string name) =>
        All.FirstOrDefault(m => m.Name == name) ?? throw new ArgumentOutOfRangeException(nameof(name), name, "Not a metric.");

    /// <summary>Whether a value lies in the closed physical range.</summary>
    public bool Admits(double value) => value >= Min && value <= Max;
}
