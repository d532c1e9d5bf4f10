using Bogus;

namespace Canopy.Api.Seeding;

/// <summary>How a seeded device behaves over its history: its own bias and noise, an optional drift, and outages.</summary>
internal sealed record DeviceCharacter(double Bias, double NoiseScale, double DriftPerDay, IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> Gaps);

/// <summary>
/// Plausible readings of a place: a seasonal curve by hemisphere, a diurnal curve on the farm's
/// local clock (warmest mid-afternoon, light from sunrise to sunset), what a zone kind does to
/// them (a glasshouse is heated and CO₂-enriched by day, a cold store holds 4 °C), soil that dries
/// and is irrigated, batteries that slowly drain, and sensor noise. Deterministic for a seed.
/// </summary>
internal sealed class ReadingCurves(Randomizer random)
{
    private readonly Dictionary<string, TimeZoneInfo> _zones = new(StringComparer.Ordinal);

    public DeviceCharacter Character(DateTimeOffset from, DateTimeOffset to, bool drifting)
    {
        var gaps = new List<(DateTimeOffset, DateTimeOffset)>();
        for (var i = random.Int(0, 3); i > 0; i--)
        {
            var start = from + TimeSpan.FromHours(random.Double(0, (to - from).TotalHours - 48));
            gaps.Add((start, start + TimeSpan.FromHours(random.Double(4, 40))));
        }

        return new DeviceCharacter(random.Double(-0.6, 0.6), random.Double(0.7, 1.4), drifting ? random.Double(0.015, 0.04) : 0, gaps);
    }

    /// <summary>The value of a metric at a time, or null in an outage.</summary>
    public double? Value(string metric, string zoneKind, DemoFarm farm, DeviceCharacter device, DateTimeOffset at, DateTimeOffset since)
    {
        if (device.Gaps.Any(g => at >= g.From && at < g.To))
        {
            return null;
        }

        if (!_zones.TryGetValue(farm.TimeZone, out var zone))
        {
            _zones[farm.TimeZone] = zone = TimeZoneInfo.FindSystemTimeZoneById(farm.TimeZone);
        }

        var local = TimeZoneInfo.ConvertTime(at, zone);
        var hour = local.Hour + (local.Minute / 60.0);
        var south = farm.Latitude < 0;
        // 1 in midsummer, -1 in midwinter, smaller near the equator.
        var season = Math.Cos(2 * Math.PI * ((local.DayOfYear - (south ? 15 : 196)) / 365.25)) * Math.Min(1, Math.Abs(farm.Latitude) / 45);
        var day = Math.Max(0, Math.Sin(Math.PI * (hour - (7 - season)) / (10 + (2 * season))));
        var afternoon = Math.Cos(2 * Math.PI * (hour - 15) / 24);
        var days = (at - since).TotalDays;
        double Noise(double scale) => random.Double(-1, 1) * scale * device.NoiseScale;

        var value = (metric, zoneKind) switch
        {
            ("temperature_c", "storage") => 4 + (0.4 * afternoon) + Noise(0.2),
            ("temperature_c", "field") => 16 + (9 * season) + (6 * afternoon) + Noise(0.8),
            ("temperature_c", _) => 20 + (3 * season) + (4 * afternoon) + Noise(0.4),
            ("humidity_pct", "storage") => 90 + Noise(2),
            ("humidity_pct", "field") => 65 - (18 * afternoon) - (8 * season) + Noise(4),
            ("humidity_pct", _) => 75 - (10 * afternoon) + Noise(3),
            ("co2_ppm", "field") => 420 + Noise(15),
            ("co2_ppm", _) => day > 0.2 ? 850 + (150 * day) + Noise(40) : 520 + Noise(30),
            ("light_ppfd", "storage") => 0,
            ("light_ppfd", "field") => Math.Max(0, 1900 * day * (0.75 + (0.25 * season)) * Cloud(local)),
            ("light_ppfd", _) => Math.Max(0, 1100 * day * (0.7 + (0.3 * season)) * Cloud(local)),
            ("soil_moisture_pct", _) => 42 - (14 * ((days % 2.5) / 2.5)) + Noise(1),
            ("battery_v", _) => 3.65 - (0.0012 * days) + Noise(0.01),
            _ => 0,
        };

        value += metric == "temperature_c" ? device.Bias + (device.DriftPerDay * days) : 0;
        var (min, max) = metric switch
        {
            "temperature_c" => (-40.0, 85.0),
            "co2_ppm" => (0.0, 10_000.0),
            "light_ppfd" => (0.0, 3_000.0),
            "battery_v" => (0.0, 15.0),
            _ => (0.0, 100.0),
        };
        return Math.Round(Math.Clamp(value, min, max), 2);
    }

    /// <summary>A day's cloud cover, the same for every device of a farm on that day.</summary>
    private static double Cloud(DateTimeOffset local) => 0.55 + (0.45 * ((Math.Sin(local.DayOfYear * 12.9898) * 43758.5453 % 1 + 1) % 1));
}
