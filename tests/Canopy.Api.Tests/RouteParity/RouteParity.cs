using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Canopy.Platform.Spec;

namespace Canopy.Api.Tests.RouteParity;

/// <summary>An operation as method + path template, with parameter names kept and constraints dropped.</summary>
internal sealed record Route(string Method, string Path)
{
    public override string ToString() => $"{Method} {Path}";
}

/// <summary>Compares the operations of the spec with the endpoints the application serves.</summary>
internal static partial class RouteParity
{
    public static IReadOnlyList<Route> FromSpec(string yaml) =>
        OperationCatalog.ReadDocument(yaml).Paths
            .SelectMany(path => (path.Value.Operations ?? []).Keys.Select(method => new Route(method.Method.ToUpperInvariant(), Normalise(path.Key))))
            .ToList();

    public static IReadOnlyList<Route> FromEndpoints(IEnumerable<EndpointDataSource> sources, IEnumerable<string> ignoredPaths)
    {
        var ignored = ignoredPaths.Select(Normalise).ToHashSet(StringComparer.Ordinal);
        return sources
            .SelectMany(s => s.Endpoints)
            .OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"])
                .Select(m => new Route(m.ToUpperInvariant(), Normalise(e.RoutePattern.RawText ?? ""))))
            .Where(r => !ignored.Contains(r.Path))
            .Distinct()
            .ToList();
    }

    /// <summary>The differences, one line each; empty when spec and application agree.</summary>
    public static IReadOnlyList<string> Compare(IEnumerable<Route> spec, IEnumerable<Route> served)
    {
        var specSet = spec.ToHashSet();
        var servedSet = served.ToHashSet();
        return specSet.Except(servedSet).Select(r => $"in the spec but not served: {r}")
            .Concat(servedSet.Except(specSet).Select(r => $"served but not in the spec: {r}"))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    private static string Normalise(string template)
    {
        var path = "/" + template.Trim().TrimStart('/');
        return Constraint().Replace(path, "{$1}");
    }

    [GeneratedRegex(@"\{\*{0,2}([A-Za-z0-9_]+)(?::[^}]*)?\??\}")]
    private static partial Regex Constraint();
}
