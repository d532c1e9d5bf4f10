using Canopy.Platform.Domain;

namespace Canopy.Telemetry.Domain;

/// <summary>How a metric is stored: a small code per reading (telemetry.metrics holds the same pairs).</summary>
internal static class StoredMetrics
{
    private static readonly Dictionary<string, short> Codes = new(StringComparer.Ordinal)
    {
        [MetricKind.TemperatureC.Name] = 1,
        [MetricKind.HumidityPct.Name] = 2,
        [MetricKind.SoilMoisturePct.Name] = 3,
        [MetricKind.Co2Ppm.Name] = 4,
        [MetricKind.LightPpfd.Name] = 5,
        [MetricKind.BatteryV.Name] = 6,
    };

    private static readonly Dictionary<short, string> Names = Codes.ToDictionary(c => c.Value, c => c.Key);

    public static IReadOnlyDictionary<string, short> All => Codes;

    public static short Code(string metric) =>
        Codes.TryGetValue(metric, out var code) ? code : throw new ArgumentOutOfRangeException(nameof(metric), metric, "Not a metric.");

    public static string Name(short code) =>
        Names.TryGetValue(code, out var name) ? name : throw new ArgumentOutOfRangeException(nameof(code), code, "Not a stored metric code.");
}
