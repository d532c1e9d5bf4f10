using System.Text.Json;
using Canopy.BreakingChanges;

// Usage: Canopy.BreakingChanges --repo <root> [--report <file>]
// Compares <root>/.openapi/api.yaml with every published snapshot <root>/.openapi/published/v<N>.yaml.
var repo = Path.GetFullPath(Arg("--repo") ?? ".");
var reportPath = Arg("--report") ?? Path.Combine(repo, "artifacts", "breaking-changes.json");
var spec = Path.Combine(repo, ".openapi", "api.yaml");
var publishedDir = Path.Combine(repo, ".openapi", "published");
var snapshots = Directory.Exists(publishedDir) ? Directory.GetFiles(publishedDir, "v*.yaml").Order(StringComparer.Ordinal).ToList() : [];
var current = SpecReader.Read(await File.ReadAllTextAsync(spec), spec);
if (args.Contains("--selftest"))
{
    // The gate must fail when a published response loses a member: drop one member of every
    // component schema from a copy of the spec and compare it with the spec itself.
    var broken = SpecReader.Read(await File.ReadAllTextAsync(spec), spec);
    foreach (var schema in broken.Components?.Schemas?.Values.OfType<Microsoft.OpenApi.OpenApiSchema>() ?? [])
    {
        if (schema.Properties is { Count: > 0 } properties)
        {
            properties.Remove(properties.Keys.First());
        }
    }

    // And an operation the SDK consumers call: the report must name them among its callers.
    const string Activate = "/api/v1/devices/{device_id}/activate";
    broken.Paths?.Remove(Activate);
    var found = SpecComparer.Compare(current, broken);
    var caught = found.Count(c => c.Breaking && c.ChangeType == ChangeTypes.RemovedProperty);
    var consumers = found.Where(c => c.ChangeType == ChangeTypes.RemovedPath && c.Endpoint.EndsWith(Activate, StringComparison.Ordinal))
        .SelectMany(c => Callers.Find(repo, c)).Where(f => f.StartsWith("tests/sdk/", StringComparison.Ordinal)).Distinct().ToList();
    var passed = caught > 0 && consumers.Count >= 2;
    Console.WriteLine(passed
        ? $"breaking changes self-test: {caught} removed member(s) caught; removing activateDevice names the SDK consumers that call it ({string.Join(", ", consumers)})"
        : $"breaking changes self-test FAILED: {caught} removed member(s) caught, SDK consumers named for a removed activateDevice: {string.Join(", ", consumers)}");
    return passed ? 0 : 1;
}

if (snapshots.Count == 0)
{
    Console.WriteLine("breaking changes: no published snapshot under .openapi/published/ (./build.sh --target=Publish writes one); nothing to compare.");
    return 0;
}

var impacts = new List<Impact>();
var warnings = new List<Change>();
foreach (var snapshot in snapshots)
{
    var published = SpecReader.Read(await File.ReadAllTextAsync(snapshot), snapshot);
    var changes = SpecComparer.Compare(published, current);
    warnings.AddRange(changes.Where(c => !c.Breaking));
    impacts.AddRange(changes.Where(c => c.Breaking).Select(c => new Impact(
        Path.GetFileNameWithoutExtension(snapshot), c.Endpoint, c.ChangeType, c.Detail, Callers.Find(repo, c), c.MigrationAction)));
}

Directory.CreateDirectory(Path.GetDirectoryName(reportPath)!);
await File.WriteAllTextAsync(reportPath, JsonSerializer.Serialize(new { breaking = impacts, warnings }, new JsonSerializerOptions
{
    WriteIndented = true,
    PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
}));

foreach (var warning in warnings)
{
    Console.WriteLine($"breaking changes: warning {warning.Endpoint}: {warning.ChangeType}: {warning.Detail} {warning.MigrationAction}");
}

if (impacts.Count == 0)
{
    Console.WriteLine($"breaking changes: none against {string.Join(", ", snapshots.Select(Path.GetFileName))} ({warnings.Count} warning(s)); report: {Path.GetRelativePath(repo, reportPath)}");
    return 0;
}

Console.WriteLine($"breaking changes: {impacts.Count} change(s) break published clients; make them under a new /api/v<N+1>/ path instead:");
foreach (var impact in impacts)
{
    Console.WriteLine($"  [{impact.Version}] {impact.Endpoint}: {impact.ChangeType}: {impact.Detail}");
    Console.WriteLine($"      callers: {(impact.AffectedFiles.Count == 0 ? "(none found in the repository)" : string.Join(", ", impact.AffectedFiles))}");
    Console.WriteLine($"      migration: {impact.MigrationAction}");
}

Console.WriteLine($"breaking changes: report: {Path.GetRelativePath(repo, reportPath)}");
return 1;

string? Arg(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

/// <summary>One breaking change and who would feel it.</summary>
internal sealed record Impact(string Version, string Endpoint, string ChangeType, string Detail, IReadOnlyList<string> AffectedFiles, string MigrationAction);
