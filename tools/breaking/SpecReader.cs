using System.Text.Json;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using YamlDotNet.Serialization;

namespace Canopy.BreakingChanges;

/// <summary>
/// Reads an OpenAPI document from YAML: YamlDotNet turns it into JSON, which Microsoft.OpenApi
/// reads with its own reader (its YAML reader is not in the package registry).
/// </summary>
internal static class SpecReader
{
    public static OpenApiDocument Read(string yaml, string name)
    {
        var graph = new DeserializerBuilder().WithAttemptingUnquotedStringTypeDeserialization().Build().Deserialize<object>(yaml);
        var json = JsonSerializer.Serialize(Normalise(graph));
        var result = OpenApiDocument.Parse(json, OpenApiConstants.Json, new OpenApiReaderSettings());
        if (result.Document is null)
        {
            throw new InvalidDataException($"{name} is not an OpenAPI document: {string.Join("; ", result.Diagnostic?.Errors.Select(e => e.Message) ?? [])}");
        }

        return result.Document;
    }

    /// <summary>YamlDotNet's object graph, with keys as strings (JSON has no other kind).</summary>
    private static object? Normalise(object? node) => node switch
    {
        IDictionary<object, object?> map => map.ToDictionary(e => Convert.ToString(e.Key, System.Globalization.CultureInfo.InvariantCulture)!, e => Normalise(e.Value)),
        IList<object?> list => list.Select(Normalise).ToList(),
        _ => node,
    };
}
