using System.Text.Json;
using System.Text.Json.Serialization;

namespace Canopy.Fleet.Features;

/// <summary>
/// The spec's names of the generated enums (temperature_c, calibration_drift, report-fault…),
/// as the JSON of the API writes them: the database stores the same names.
/// </summary>
internal static class WireNames
{
    private static readonly JsonSerializerOptions Options = new() { Converters = { new JsonStringEnumConverter() } };

    public static string Of<TEnum>(TEnum value)
        where TEnum : struct, Enum =>
        JsonSerializer.Serialize(value, Options).Trim('"');

    public static TEnum Parse<TEnum>(string name)
        where TEnum : struct, Enum =>
        JsonSerializer.Deserialize<TEnum>(JsonSerializer.Serialize(name), Options);
}
