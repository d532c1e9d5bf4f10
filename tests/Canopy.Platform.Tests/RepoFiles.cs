namespace Canopy.Platform.Tests;

/// <summary>Files of the repository (the spec, the docs) that tests compare the code with.</summary>
internal static class RepoFiles
{
    public static string Read(params string[] path) => File.ReadAllText(Path.Combine([Root(), .. path]));

    private static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "global.json")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("The repository root (global.json) was not found.");
    }
}
