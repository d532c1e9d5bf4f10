using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace Canopy.Platform.Spec;

/// <summary>A query, path or header parameter of an operation, with the constraints the spec gives it.</summary>
public sealed record ParameterSpec(
    string Name,
    string In,
    bool Required,
    string? Type,
    decimal? Minimum,
    decimal? Maximum,
    int? MinLength,
    int? MaxLength,
    string? Pattern,
    IReadOnlyList<string>? Enum);

/// <summary>One operation of the spec: where it lives, its parameters and its vendor extensions.</summary>
public sealed record OperationSpec(
    string OperationId,
    string Method,
    string Path,
    IReadOnlyList<ParameterSpec> Parameters,
    IReadOnlyDictionary<string, string> Extensions)
{
    /// <summary>
    /// The documented responses: status (as written, e.g. <c>200</c>) → media types (none for a
    /// bodiless response). Null when the operation documents none at all.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Responses { get; init; }

    /// <summary>Whether <paramref name="status"/> with <paramref name="mediaType"/> (null: no body) is a documented answer.</summary>
    public bool Documents(int status, string? mediaType)
    {
        if (Responses is null)
        {
            return true;
        }

        var code = status.ToString(CultureInfo.InvariantCulture);
        var types = Responses.GetValueOrDefault(code) ?? Responses.GetValueOrDefault(code[0] + "XX") ?? Responses.GetValueOrDefault("default");
        return types is not null && (mediaType is null ? types.Count == 0 || status == 304 : types.Contains(mediaType, StringComparer.OrdinalIgnoreCase));
    }

    /// <summary>The body size limit from <c>x-max-body-bytes</c>, if the operation sets one.</summary>
    public long? MaxBodyBytes =>
        Extensions.TryGetValue("x-max-body-bytes", out var v) ? long.Parse(v, CultureInfo.InvariantCulture) : null;
}

/// <summary>
/// The operations of the service's own OpenAPI document, read once at start-up, so per-operation
/// behaviour (parameter constraints, body limits, and later rate limits, idempotency, roles)
/// comes from the same file that generated the code, never from a second hand-kept table.
/// </summary>
public sealed class OperationCatalog
{
    private readonly Dictionary<string, OperationSpec> _byId;

    private OperationCatalog(IReadOnlyList<OperationSpec> operations, IReadOnlyList<ProblemTypeSpec> problemTypes)
    {
        Operations = operations;
        ProblemTypes = problemTypes;
        _byId = operations.ToDictionary(o => o.OperationId, StringComparer.Ordinal);
    }

    public IReadOnlyList<OperationSpec> Operations { get; }

    /// <summary>The problem types listed in <c>components.x-problem-types</c>.</summary>
    public IReadOnlyList<ProblemTypeSpec> ProblemTypes { get; }

    public OperationSpec? Find(string operationId) => _byId.GetValueOrDefault(operationId);

    /// <summary>The operation an MVC action serves (its route name is the operationId), if the spec has it.</summary>
    public OperationSpec? For(Microsoft.AspNetCore.Mvc.Abstractions.ActionDescriptor action) =>
        action?.AttributeRouteInfo?.Name is { } operationId ? Find(operationId) : null;

    /// <summary>
    /// Reads the operations of an OpenAPI document with Microsoft.OpenApi's YAML reader.
    /// Structural validation is the lint gate's (Spectral); this refuses only what it cannot read
    /// faithfully: a document the reader cannot parse, a reference that resolves to nothing, an
    /// operation without an operationId.
    /// </summary>
    public static OperationCatalog Parse(string yaml)
    {
        var document = ReadDocument(yaml);
        var paths = document.Paths;
        var operations = new List<OperationSpec>();
        foreach (var (path, item) in paths)
        {
            var shared = ReadParameters(item.Parameters, path);
            foreach (var (method, operation) in item.Operations ?? [])
            {
                var verb = method.Method.ToUpperInvariant();
                var own = ReadParameters(operation.Parameters, path);
                var extensions = (operation.Extensions ?? new Dictionary<string, IOpenApiExtension>())
                    .ToDictionary(e => e.Key, e => Text((e.Value as JsonNodeExtension)?.Node), StringComparer.Ordinal);
                if (operation.Deprecated)
                {
                    extensions["deprecated"] = "true";
                }

                operations.Add(new OperationSpec(
                    operation.OperationId ?? throw new InvalidOperationException($"{verb} {path} has no operationId."),
                    verb,
                    path,
                    own.Concat(shared.Where(s => !own.Any(o => o.Name == s.Name && o.In == s.In))).ToList(),
                    extensions)
                {
                    Responses = operation.Responses is { Count: > 0 } responses
                        ? responses.ToDictionary(r => r.Key, r => MediaTypes(r.Value, $"{verb} {path} {r.Key}"), StringComparer.Ordinal)
                        : null,
                });
            }
        }

        var problemTypes = document.Components?.Extensions?.TryGetValue("x-problem-types", out var listing) == true
            && (listing as JsonNodeExtension)?.Node is JsonArray listed
            ? listed.OfType<JsonObject>()
                .Select(m => new ProblemTypeSpec(Text(m["type"]), int.Parse(Text(m["status"]), CultureInfo.InvariantCulture), Text(m["title"])))
                .ToList()
            : [];
        return new OperationCatalog(operations, problemTypes);
    }

    /// <summary>The document's object model, read from YAML (or JSON); throws when nothing readable is there.</summary>
    public static OpenApiDocument ReadDocument(string yaml)
    {
        var settings = new OpenApiReaderSettings();
        settings.AddYamlReader();
        var read = OpenApiDocument.Parse(yaml, OpenApiConstants.Yaml, settings);
        return read.Document is { Paths: not null } document
            ? document
            : throw new InvalidOperationException(
                $"The OpenAPI document cannot be read: {string.Join("; ", read.Diagnostic?.Errors.Select(e => e.Message) ?? [])}");
    }

    private static List<ParameterSpec> ReadParameters(IList<IOpenApiParameter>? parameters, string path) =>
        (parameters ?? []).Select(p =>
        {
            if (p is IOpenApiReferenceHolder { UnresolvedReference: true } || p.Schema is IOpenApiReferenceHolder { UnresolvedReference: true })
            {
                throw new InvalidOperationException($"A parameter of {path} has an unresolvable reference in the OpenAPI document.");
            }

            var schema = p.Schema;
            return new ParameterSpec(
                p.Name ?? throw new InvalidOperationException($"A parameter of {path} has no name (an unresolvable reference?)."),
                p.In?.ToString().ToLowerInvariant() ?? "",
                p.Required,
                schema?.Type is { } type && (type & ~JsonSchemaType.Null) is var bare && bare != 0 ? bare.ToString().ToLowerInvariant() : null,
                Decimal(schema?.Minimum),
                Decimal(schema?.Maximum),
                schema?.MinLength,
                schema?.MaxLength,
                schema?.Pattern,
                schema?.Enum is { Count: > 0 } values ? values.Select(Text).ToList() : null);
        }).ToList();

    private static IReadOnlyList<string> MediaTypes(IOpenApiResponse response, string where) =>
        response is IOpenApiReferenceHolder { UnresolvedReference: true }
            ? throw new InvalidOperationException($"The response of {where} has an unresolvable reference in the OpenAPI document.")
            : [.. response.Content?.Keys ?? []];

    private static decimal? Decimal(string? value) =>
        value is null ? null : decimal.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>A value of the document as written: strings bare, a list as its items joined by commas.</summary>
    private static string Text(JsonNode? node) => node switch
    {
        null => "",
        JsonArray array => string.Join(",", array.Select(Text)),
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        _ => node.ToJsonString(),
    };
}

/// <summary>A problem type as the spec lists it.</summary>
public sealed record ProblemTypeSpec(string Type, int Status, string Title);
