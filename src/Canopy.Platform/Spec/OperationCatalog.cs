using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

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
public sealed partial class OperationCatalog
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch", "head", "options"];
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

    public static OperationCatalog Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        var components = Child(root, "components") as YamlMappingNode;
        var operations = new List<OperationSpec>();
        if (Child(root, "paths") is YamlMappingNode paths)
        {
            foreach (var (pathKey, pathNode) in paths.Children)
            {
                var pathItem = (YamlMappingNode)pathNode;
                var shared = ReadParameters(Child(pathItem, "parameters"), components);
                foreach (var method in Methods)
                {
                    if (Child(pathItem, method) is not YamlMappingNode op)
                    {
                        continue;
                    }

                    var own = ReadParameters(Child(op, "parameters"), components);
                    var parameters = own.Concat(shared.Where(s => !own.Any(o => o.Name == s.Name && o.In == s.In))).ToList();
                    var extensions = op.Children
                        .Where(c => ((YamlScalarNode)c.Key).Value!.StartsWith("x-", StringComparison.Ordinal) || ((YamlScalarNode)c.Key).Value == "deprecated")
                        .ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => Flatten(c.Value), StringComparer.Ordinal);
                    var operationId = Scalar(op, "operationId")
                        ?? throw new InvalidOperationException($"{method.ToUpperInvariant()} {((YamlScalarNode)pathKey).Value} has no operationId.");
                    operations.Add(new OperationSpec(operationId, method.ToUpperInvariant(), ((YamlScalarNode)pathKey).Value!, parameters, extensions)
                    {
                        Responses = ReadResponses(Child(op, "responses"), components),
                    });
                }
            }
        }

        var problemTypes = (components is null ? null : Child(components, "x-problem-types") as YamlSequenceNode)?
            .Children.OfType<YamlMappingNode>()
            .Select(m => new ProblemTypeSpec(Scalar(m, "type")!, int.Parse(Scalar(m, "status")!, CultureInfo.InvariantCulture), Scalar(m, "title")!))
            .ToList() ?? [];
        return new OperationCatalog(operations, problemTypes);
    }

    private static Dictionary<string, IReadOnlyList<string>>? ReadResponses(YamlNode? node, YamlMappingNode? components) =>
        node is not YamlMappingNode responses
            ? null
            : responses.Children.ToDictionary(
                r => ((YamlScalarNode)r.Key).Value!,
                r => (IReadOnlyList<string>)(Child(Resolve((YamlMappingNode)r.Value, components), "content") is YamlMappingNode content
                    ? content.Children.Select(c => ((YamlScalarNode)c.Key).Value!).ToList()
                    : []),
                StringComparer.Ordinal);

    private static List<ParameterSpec> ReadParameters(YamlNode? node, YamlMappingNode? components)
    {
        if (node is not YamlSequenceNode list)
        {
            return [];
        }

        return list.Children.OfType<YamlMappingNode>().Select(p =>
        {
            var parameter = Resolve(p, components);
            var schema = Child(parameter, "schema") is YamlMappingNode s ? Resolve(s, components) : null;
            return new ParameterSpec(
                Scalar(parameter, "name")!,
                Scalar(parameter, "in")!,
                Scalar(parameter, "required") == "true",
                schema is null ? null : Scalar(schema, "type"),
                Decimal(schema, "minimum"),
                Decimal(schema, "maximum"),
                (int?)Decimal(schema, "minLength"),
                (int?)Decimal(schema, "maxLength"),
                schema is null ? null : Scalar(schema, "pattern"),
                schema is not null && Child(schema, "enum") is YamlSequenceNode e
                    ? e.Children.OfType<YamlScalarNode>().Select(v => v.Value!).ToList()
                    : null);
        }).ToList();
    }

    private static YamlMappingNode Resolve(YamlMappingNode node, YamlMappingNode? components)
    {
        var reference = Scalar(node, "$ref");
        if (reference is null)
        {
            return node;
        }

        var match = ComponentRef().Match(reference);
        if (!match.Success || components is null
            || Child(components, match.Groups[1].Value) is not YamlMappingNode section
            || Child(section, match.Groups[2].Value) is not YamlMappingNode target)
        {
            throw new InvalidOperationException($"Unresolvable reference {reference} in the OpenAPI document.");
        }

        return Resolve(target, components);
    }

    private static YamlNode? Child(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string? Scalar(YamlMappingNode node, string key) => (Child(node, key) as YamlScalarNode)?.Value;

    private static decimal? Decimal(YamlMappingNode? node, string key) =>
        node is not null && Scalar(node, key) is { } v ? decimal.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture) : null;

    private static string Flatten(YamlNode node) => node switch
    {
        YamlScalarNode s => s.Value ?? "",
        YamlSequenceNode seq => string.Join(",", seq.Children.Select(Flatten)),
        _ => node.ToString(),
    };

    [GeneratedRegex("^#/components/(parameters|schemas|responses)/(.+)$")]
    private static partial Regex ComponentRef();
}

/// <summary>A problem type as the spec lists it.</summary>
public sealed record ProblemTypeSpec(string Type, int Status, string Title);
