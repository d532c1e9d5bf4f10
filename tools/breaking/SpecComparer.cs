using Microsoft.OpenApi;

namespace Canopy.BreakingChanges;

/// <summary>One difference between a published version and the spec: breaking, or a warning for consumers.</summary>
internal sealed record Change(string Endpoint, string ChangeType, string Detail, bool Breaking)
{
    public string OperationId { get; init; } = "";

    public string MigrationAction => ChangeType switch
    {
        ChangeTypes.RemovedPath or ChangeTypes.RemovedOperation => "Keep the operation in this version (deprecate it with x-deprecated-at and x-sunset) and add its replacement under a new /api/v<N+1>/ path.",
        ChangeTypes.ChangedMethod => "Keep the old method in this version; serve the new one under a new /api/v<N+1>/ path.",
        ChangeTypes.RemovedProperty => "Keep the property in this version (say in its description that it is deprecated) and drop it under a new /api/v<N+1>/ path.",
        ChangeTypes.TypeChanged => "Keep the old type and format in this version; add a new property, or change it under a new /api/v<N+1>/ path.",
        ChangeTypes.NarrowedEnum => "Keep accepting the removed value in this version (map it to its replacement); remove it under a new /api/v<N+1>/ path.",
        ChangeTypes.NewRequiredParameter or ChangeTypes.NewRequiredProperty => "Make it optional with a server-side default in this version; require it under a new /api/v<N+1>/ path.",
        ChangeTypes.RemovedStatus => "Keep documenting (and answering) this status in this version.",
        ChangeTypes.AddedSecurity => "Keep the operation's current security in this version; require more under a new /api/v<N+1>/ path.",
        ChangeTypes.NewResponseEnumValue => "Announce it to SDK consumers: a client that switches exhaustively over this enum must handle the new value.",
        _ => "Serve the change under a new /api/v<N+1>/ path.",
    };
}

internal static class ChangeTypes
{
    public const string RemovedPath = "removed-path";
    public const string RemovedOperation = "removed-operation";
    public const string ChangedMethod = "changed-method";
    public const string RemovedProperty = "removed-or-renamed-property";
    public const string TypeChanged = "type-or-format-changed";
    public const string NarrowedEnum = "narrowed-request-enum";
    public const string NewRequiredParameter = "new-required-parameter";
    public const string NewRequiredProperty = "new-required-property";
    public const string RemovedStatus = "removed-status-code";
    public const string AddedSecurity = "added-security-requirement";
    public const string NewResponseEnumValue = "new-response-enum-value";
}

/// <summary>
/// Classifies the differences that break existing clients of a published version. Requests and
/// responses are read in the direction a client depends on them: a request may not ask more
/// (new required input, fewer accepted values), a response may not give less (fewer members,
/// fewer statuses, other types).
/// </summary>
internal static class SpecComparer
{
    private const int MaxDepth = 12;

    public static List<Change> Compare(OpenApiDocument published, OpenApiDocument current)
    {
        ArgumentNullException.ThrowIfNull(published);
        ArgumentNullException.ThrowIfNull(current);
        var changes = new List<Change>();
        foreach (var (path, before) in published.Paths ?? [])
        {
            if (current.Paths is null || !current.Paths.TryGetValue(path, out var after))
            {
                foreach (var (method, operation) in before.Operations ?? [])
                {
                    changes.Add(new Change(Endpoint(method, path), ChangeTypes.RemovedPath, $"The path {path} no longer exists.", true) { OperationId = operation.OperationId ?? "" });
                }

                continue;
            }

            var beforeOps = before.Operations ?? [];
            var afterOps = after.Operations ?? [];
            var gained = afterOps.Keys.Where(m => !beforeOps.ContainsKey(m)).ToList();
            foreach (var (method, operation) in beforeOps)
            {
                if (!afterOps.TryGetValue(method, out var now))
                {
                    var moved = gained.FirstOrDefault(m => afterOps[m].OperationId == operation.OperationId);
                    changes.Add(moved is null
                        ? new Change(Endpoint(method, path), ChangeTypes.RemovedOperation, $"{method.Method.ToUpperInvariant()} {path} ({operation.OperationId}) no longer exists.", true) { OperationId = operation.OperationId ?? "" }
                        : new Change(Endpoint(method, path), ChangeTypes.ChangedMethod, $"{operation.OperationId} moved from {method.Method.ToUpperInvariant()} to {moved.Method.ToUpperInvariant()}.", true) { OperationId = operation.OperationId ?? "" });
                    continue;
                }

                var endpoint = Endpoint(method, path);
                var found = new List<Change>();
                CompareOperation(endpoint, operation, now, published, current, found);
                changes.AddRange(found.Select(c => c with { OperationId = operation.OperationId ?? "" }));
            }
        }

        return changes;
    }

    private static void CompareOperation(string endpoint, OpenApiOperation before, OpenApiOperation after, OpenApiDocument published, OpenApiDocument current, List<Change> changes)
    {
        // Parameters: a new required one, an optional one made required, or one accepting less.
        var oldParameters = (before.Parameters ?? []).ToDictionary(p => $"{p.In}:{p.Name}", StringComparer.OrdinalIgnoreCase);
        foreach (var parameter in after.Parameters ?? [])
        {
            var key = $"{parameter.In}:{parameter.Name}";
            if (!oldParameters.TryGetValue(key, out var old))
            {
                if (parameter.Required)
                {
                    changes.Add(new Change(endpoint, ChangeTypes.NewRequiredParameter, $"The {parameter.In} parameter {parameter.Name} is new and required.", true));
                }

                continue;
            }

            if (parameter.Required && !old.Required)
            {
                changes.Add(new Change(endpoint, ChangeTypes.NewRequiredParameter, $"The {parameter.In} parameter {parameter.Name} was optional and is now required.", true));
            }

            CompareSchema(endpoint, $"parameter {parameter.Name}", old.Schema, parameter.Schema, request: true, changes, []);
        }

        // Request body: compared as input.
        var oldBody = Json(before.RequestBody?.Content);
        var newBody = Json(after.RequestBody?.Content);
        if (newBody is not null && oldBody is null && after.RequestBody?.Required == true)
        {
            changes.Add(new Change(endpoint, ChangeTypes.NewRequiredProperty, "A request body is now required.", true));
        }
        else if (oldBody is not null && newBody is not null)
        {
            CompareSchema(endpoint, "request body", oldBody, newBody, request: true, changes, []);
        }

        // Responses: every published status stays, and each 2XX body gives at least what it gave.
        foreach (var (status, oldResponse) in before.Responses ?? [])
        {
            if (after.Responses is null || !after.Responses.TryGetValue(status, out var newResponse))
            {
                changes.Add(new Change(endpoint, ChangeTypes.RemovedStatus, $"The {status} response is no longer documented.", true));
                continue;
            }

            if (Json(oldResponse.Content) is { } oldSchema && Json(newResponse.Content) is { } newSchema)
            {
                CompareSchema(endpoint, $"{status} response", oldSchema, newSchema, request: false, changes, []);
            }
        }

        // Security: an operation that any caller (or any token) could call may not require more.
        var oldSecurity = Schemes(before.Security ?? published.Security);
        var newSecurity = Schemes(after.Security ?? current.Security);
        if (newSecurity.Except(oldSecurity).FirstOrDefault() is { } added)
        {
            changes.Add(new Change(endpoint, ChangeTypes.AddedSecurity, $"The operation now requires the {added} security scheme.", true));
        }
    }

    private static void CompareSchema(string endpoint, string where, IOpenApiSchema? before, IOpenApiSchema? after, bool request, List<Change> changes, HashSet<(IOpenApiSchema, IOpenApiSchema)> seen)
    {
        if (before is null || after is null || seen.Count > 500 || !seen.Add((before, after)) || Depth(where) > MaxDepth)
        {
            return;
        }

        var (oldType, newType) = (Kind(before.Type), Kind(after.Type));
        if (oldType != newType && oldType is not null && newType is not null)
        {
            changes.Add(new Change(endpoint, ChangeTypes.TypeChanged, $"{where}: type {oldType} became {newType}.", true));
            return;
        }

        if (!string.Equals(before.Format, after.Format, StringComparison.Ordinal) && before.Format is not null)
        {
            changes.Add(new Change(endpoint, ChangeTypes.TypeChanged, $"{where}: format {before.Format} became {after.Format ?? "(none)"}.", true));
        }

        var oldValues = EnumValues(before);
        var newValues = EnumValues(after);
        if (oldValues.Count > 0 && newValues.Count > 0)
        {
            if (request && oldValues.Except(newValues).ToList() is { Count: > 0 } removed)
            {
                changes.Add(new Change(endpoint, ChangeTypes.NarrowedEnum, $"{where}: no longer accepts {string.Join(", ", removed)}.", true));
            }

            if (!request && newValues.Except(oldValues).ToList() is { Count: > 0 } addedValues)
            {
                changes.Add(new Change(endpoint, ChangeTypes.NewResponseEnumValue, $"{where}: may now answer {string.Join(", ", addedValues)}.", false));
            }
        }
        else if (request && oldValues.Count == 0 && newValues.Count > 0)
        {
            changes.Add(new Change(endpoint, ChangeTypes.NarrowedEnum, $"{where}: now accepts only {string.Join(", ", newValues)}.", true));
        }

        var oldProperties = Properties(before);
        var newProperties = Properties(after);
        var oldRequired = Required(before);
        var newRequired = Required(after);
        foreach (var (name, schema) in oldProperties)
        {
            if (!newProperties.TryGetValue(name, out var now))
            {
                changes.Add(new Change(endpoint, ChangeTypes.RemovedProperty, $"{where}: member {name} was removed or renamed.", true));
                continue;
            }

            CompareSchema(endpoint, $"{where}.{name}", schema, now, request, changes, seen);
        }

        if (request)
        {
            foreach (var name in newRequired.Where(n => !oldRequired.Contains(n)))
            {
                changes.Add(new Change(endpoint, ChangeTypes.NewRequiredProperty,
                    oldProperties.ContainsKey(name) ? $"{where}: member {name} was optional and is now required." : $"{where}: member {name} is new and required.", true));
            }
        }

        CompareSchema(endpoint, $"{where}[]", before.Items, after.Items, request, changes, seen);
    }

    private static Dictionary<string, IOpenApiSchema> Properties(IOpenApiSchema schema)
    {
        var all = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal);
        foreach (var part in schema.AllOf ?? [])
        {
            foreach (var (name, value) in Properties(part))
            {
                all[name] = value;
            }
        }

        foreach (var (name, value) in schema.Properties ?? new Dictionary<string, IOpenApiSchema>())
        {
            all[name] = value;
        }

        return all;
    }

    private static HashSet<string> Required(IOpenApiSchema schema)
    {
        var all = new HashSet<string>(schema.Required ?? new HashSet<string>(), StringComparer.Ordinal);
        foreach (var part in schema.AllOf ?? [])
        {
            all.UnionWith(Required(part));
        }

        return all;
    }

    private static List<string> EnumValues(IOpenApiSchema schema) =>
        (schema.Enum ?? []).Where(v => v is not null).Select(v => v!.ToJsonString()).Concat((schema.AllOf ?? []).SelectMany(EnumValues)).Distinct().ToList();

    /// <summary>The type without null: becoming nullable is not a type change here.</summary>
    private static string? Kind(JsonSchemaType? type) => type is { } t && (t & ~JsonSchemaType.Null) is var bare && bare != 0 ? bare.ToString() : null;

    private static IOpenApiSchema? Json(IDictionary<string, IOpenApiMediaType>? content) =>
        content is null ? null : content.FirstOrDefault(c => c.Key.EndsWith("json", StringComparison.Ordinal)).Value?.Schema;

    private static HashSet<string> Schemes(IList<OpenApiSecurityRequirement>? requirements) =>
        (requirements ?? []).SelectMany(r => r.Keys).Select(s => s.Reference?.Id ?? s.Name ?? "scheme").ToHashSet(StringComparer.Ordinal);

    private static int Depth(string where) => where.Count(c => c == '.' || c == '[');

    private static string Endpoint(HttpMethod method, string path) => $"{method.Method.ToUpperInvariant()} {path}";
}
