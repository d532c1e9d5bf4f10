using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json.Serialization;

namespace Canopy.Platform.Data;

/// <summary>
/// The spec's names of the generated enums (temperature_c, calibration_drift, report-fault…),
/// as the JSON of the API writes them (their JsonStringEnumMemberName): the database stores the
/// same names. Each enum's table is built once; reading a row costs a dictionary lookup.
/// </summary>
public static class WireNames
{
    public static string Of<TEnum>(TEnum value)
        where TEnum : struct, Enum =>
        Table<TEnum>.Names[value];

    public static TEnum Parse<TEnum>(string name)
        where TEnum : struct, Enum =>
        Table<TEnum>.Values.TryGetValue(name, out var value)
            ? value
            : throw new FormatException($"'{name}' is not a {typeof(TEnum).Name} of the spec.");

    private static class Table<TEnum>
        where TEnum : struct, Enum
    {
        public static readonly FrozenDictionary<TEnum, string> Names = Enum.GetValues<TEnum>().ToFrozenDictionary(
            v => v,
            v => typeof(TEnum).GetField(v.ToString())!.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? v.ToString());

        public static readonly FrozenDictionary<string, TEnum> Values = Names.ToFrozenDictionary(e => e.Value, e => e.Key, StringComparer.Ordinal);
    }
}
