namespace Canopy.Api.Seeding;

/// <summary>A farm of the demo organisation: a real place, its time zone, its zones, and when it joined.</summary>
internal sealed record DemoFarm(string Name, double Latitude, double Longitude, string TimeZone, double AreaHa, int JoinedDaysAgo, DemoZone[] Zones);

/// <summary>A zone and the devices installed in it (catalogue model ids, one entry per device).</summary>
internal sealed record DemoZone(string Name, string Kind, string[] Devices);

/// <summary>A member of the demo organisation.</summary>
internal sealed record DemoMember(string DisplayName, string EmailLocalPart, string Role, int JoinedDaysAgo);

/// <summary>
/// The demo organisation: a grower with a few large glasshouse sites, most medium, one new, on
/// four continents; its team; and the devices of the real models the catalogue lists. Skewed on
/// purpose: two farms hold more than half of the fleet.
/// </summary>
internal static class DemoFleet
{
    public const string Organisation = "Verdant Growers Cooperative";

    public const string OwnerName = "Ingrid Vermeulen";

    public const string OwnerEmail = "ingrid.vermeulen@verdant-growers.example";

    public static IReadOnlyList<DemoMember> Members { get; } =
    [
        new("Mateo Fernández García", "mateo.fernandez", "admin", 170),
        new("Wanjiru Kamau", "wanjiru.kamau", "operator", 150),
        new("Hiroshi Tanaka", "hiroshi.tanaka", "operator", 120),
        new("Priya Raghunathan", "priya.raghunathan", "viewer", 95),
        new("Tomasz Wiśniewski", "tomasz.wisniewski", "operator", 80),
        new("Aroha Ngata", "aroha.ngata", "viewer", 40),
        new("Oluwaseun Adeyemi", "oluwaseun.adeyemi", "admin", 21),
        new("Léa Dubois", "lea.dubois", "viewer", 6),
    ];

    public static IReadOnlyList<DemoFarm> Farms { get; } =
    [
        new("Westland Glasshouse", 51.9990, 4.2090, "Europe/Amsterdam", 14.5, 178,
        [
            new("Tomato House A", "greenhouse", ["milesight-em500-co2", "milesight-em500-co2", "sensirion-scd41", "apogee-sq-520", "meter-teros-12"]),
            new("Tomato House B", "greenhouse", ["milesight-em500-co2", "sensirion-scd41", "apogee-sq-520", "meter-teros-12"]),
            new("Propagation", "nursery", ["sensirion-sht45", "sensirion-scd41", "apogee-sq-520"]),
            new("Packing Hall Cold Store", "storage", ["dragino-lht65", "dragino-lht65"]),
        ]),
        new("Campo de Níjar Invernaderos", 36.9660, -2.2070, "Europe/Madrid", 11.0, 165,
        [
            new("Pepper Block 1", "greenhouse", ["milesight-em500-co2", "sensirion-scd41", "apogee-sq-520", "seeed-sensecap-s2105"]),
            new("Pepper Block 2", "greenhouse", ["milesight-em500-co2", "apogee-sq-520", "seeed-sensecap-s2105"]),
            new("Cucumber Tunnel", "greenhouse", ["bosch-bme280", "seeed-sensecap-s2105"]),
            new("Open Field Melons", "field", ["seeed-sensecap-s2105", "seeed-sensecap-s2105", "dragino-lht65"]),
        ]),
        new("Salinas Valley Greens", 36.6777, -121.6555, "America/Los_Angeles", 6.2, 131,
        [
            new("Lettuce Field North", "field", ["seeed-sensecap-s2105", "seeed-sensecap-s2105", "dragino-lht65"]),
            new("Seedling House", "nursery", ["sensirion-sht45", "apogee-sq-520"]),
            new("Cooler", "storage", ["dragino-lht65"]),
        ]),
        new("Naivasha Highland Roses", -0.7167, 36.4333, "Africa/Nairobi", 8.0, 112,
        [
            new("Rose House 1", "greenhouse", ["milesight-em500-co2", "apogee-sq-520", "meter-teros-12"]),
            new("Rose House 2", "greenhouse", ["sensirion-scd41", "meter-teros-12"]),
            new("Grading Cold Room", "storage", ["dragino-lht65"]),
        ]),
        new("Furano Hills Farm", 43.3420, 142.3830, "Asia/Tokyo", 3.4, 74,
        [
            new("Melon House", "greenhouse", ["milesight-em500-co2", "apogee-sq-520", "meter-teros-12"]),
            new("Lavender Field", "field", ["seeed-sensecap-s2105", "dragino-lht65"]),
        ]),
        new("Sunraysia Citrus", -34.1855, 142.1625, "Australia/Melbourne", 5.1, 12,
        [
            new("Nursery Shade House", "nursery", ["sensirion-sht45", "apogee-sq-520"]),
            new("Orchard Block 7", "field", ["seeed-sensecap-s2105"]),
        ]),
    ];
}
