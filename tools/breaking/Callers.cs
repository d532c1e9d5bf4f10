using System.Text.RegularExpressions;

namespace Canopy.BreakingChanges;

/// <summary>
/// Who calls an endpoint, found by searching the repository (tests, hooks, SDK consumers, tools)
/// for its operationId, the generated C# client's method name, or its path. The spec itself and
/// the generated code are left out: they change with the spec.
/// </summary>
internal static class Callers
{
    // The spec and generated code change with the spec; the detector and its fixtures name every path.
    private static readonly string[] Skipped = [".git", "node_modules", "bin", "obj", "artifacts", "generated", ".openapi", ".data", "breaking", "Canopy.BreakingChanges.Tests"];
    private static readonly string[] Searched = [".cs", ".js", ".mjs", ".ts", ".json", ".md", ".sh", ".cake"];

    public static IReadOnlyList<string> Find(string repo, Change change)
    {
        ArgumentNullException.ThrowIfNull(change);
        var needles = new List<string>();
        if (change.OperationId.Length > 0)
        {
            needles.Add(change.OperationId);
            needles.Add(char.ToUpperInvariant(change.OperationId[0]) + change.OperationId[1..] + "Async");
        }

        // A verb's own segment as a string literal ("report-fault"): helpers build the path from it.
        var path0 = change.Endpoint[(change.Endpoint.IndexOf(' ', StringComparison.Ordinal) + 1)..];
        var segments = path0.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length >= 2 && segments[^2].StartsWith('{') && !segments[^1].StartsWith('{'))
        {
            needles.Add($"\"{segments[^1]}\"");
            needles.Add($"'{segments[^1]}'");
        }

        // The path as callers write it: a template parameter may be written as a value, a
        // {placeholder} or an ${interpolation}; the path ends where a path would.
        var path = path0;
        var pattern = new Regex(
            string.Concat(Regex.Split(path, @"(\{[^}]+\})").Select(part => part.StartsWith('{') ? @"(\$?\{[^}]*\}|[^/""'\s?{}]+)" : Regex.Escape(part)))
            + @"(?=[^\w/-]|$)",
            RegexOptions.CultureInvariant);

        return Texts(repo)
            .Where(file => pattern.IsMatch(file.Text) || needles.Any(n => file.Text.Contains(n, StringComparison.Ordinal)))
            .Select(file => file.Path)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    private static readonly Dictionary<string, List<(string Path, string Text)>> Read = [];

    /// <summary>The searched files of the repository, read once per run.</summary>
    private static List<(string Path, string Text)> Texts(string repo)
    {
        if (!Read.TryGetValue(repo, out var texts))
        {
            texts = Files(repo).Select(f => (Path.GetRelativePath(repo, f).Replace('\\', '/'), File.ReadAllText(f))).ToList();
            Read[repo] = texts;
        }

        return texts;
    }

    private static IEnumerable<string> Files(string directory)
    {
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            if (Searched.Contains(Path.GetExtension(file), StringComparer.OrdinalIgnoreCase))
            {
                yield return file;
            }
        }

        foreach (var child in Directory.EnumerateDirectories(directory))
        {
            if (!Skipped.Contains(Path.GetFileName(child), StringComparer.Ordinal))
            {
                foreach (var file in Files(child))
                {
                    yield return file;
                }
            }
        }
    }
}
