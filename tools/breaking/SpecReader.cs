using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace Canopy.BreakingChanges;

/// <summary>Reads an OpenAPI document from YAML with Microsoft.OpenApi's own YAML reader.</summary>
internal static class SpecReader
{
    public static OpenApiDocument Read(string yaml, string name)
    {
        var settings = new OpenApiReaderSettings();
        settings.AddYamlReader();
        var result = OpenApiDocument.Parse(yaml, OpenApiConstants.Yaml, settings);
        return result.Document
            ?? throw new InvalidDataException($"{name} is not an OpenAPI document: {string.Join("; ", result.Diagnostic?.Errors.Select(e => e.Message) ?? [])}");
    }
}
