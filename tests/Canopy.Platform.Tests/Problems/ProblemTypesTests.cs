using Canopy.Platform.Problems;

namespace Canopy.Platform.Tests.Problems;

public sealed class ProblemTypesTests
{
    [Fact]
    public void Given_the_catalogue_Then_slugs_and_statuses_are_unique_and_uris_absolute()
    {
        Assert.Equal(ProblemTypes.All.Count, ProblemTypes.All.Select(t => t.Slug).Distinct().Count());
        Assert.Equal(ProblemTypes.All.Count, ProblemTypes.All.Select(t => t.Status).Distinct().Count());
        Assert.All(ProblemTypes.All, t => Assert.True(Uri.IsWellFormedUriString(t.Uri, UriKind.Absolute), t.Uri));
    }

    [Theory]
    [InlineData(404, "not-found")]
    [InlineData(405, "method-not-allowed")]
    [InlineData(500, "internal-error")]
    public void Given_a_known_status_Then_its_type_is_used(int status, string slug)
    {
        Assert.Equal(slug, ProblemTypes.ForStatus(status).Slug);
    }

    [Theory]
    [InlineData(418)]
    [InlineData(502)]
    public void Given_an_undescribed_status_Then_a_type_of_its_class_keeps_the_status(int status)
    {
        var type = ProblemTypes.ForStatus(status);

        Assert.Equal(status, type.Status);
        Assert.Equal(status >= 500 ? "internal-error" : "malformed-request", type.Slug);
    }

    [Fact]
    public void Given_the_catalogue_Then_every_type_is_documented_in_docs_problems()
    {
        var docs = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "problems.md"));

        Assert.All(ProblemTypes.All, t => Assert.Contains(t.Uri, docs, StringComparison.Ordinal));
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "global.json")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("The repository root (global.json) was not found.");
    }
}
