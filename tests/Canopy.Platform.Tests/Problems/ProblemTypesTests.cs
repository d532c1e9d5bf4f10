using Canopy.Platform.Problems;
using Canopy.Platform.Spec;

namespace Canopy.Platform.Tests.Problems;

public sealed class ProblemTypesTests
{
    [Fact]
    public void Given_the_catalogue_Then_slugs_are_unique_and_uris_absolute()
    {
        Assert.Equal(ProblemTypes.All.Count, ProblemTypes.All.Select(t => t.Slug).Distinct().Count());
        Assert.All(ProblemTypes.All, t => Assert.True(Uri.IsWellFormedUriString(t.Uri, UriKind.Absolute), t.Uri));
    }

    [Theory]
    [InlineData(404, "not-found")]
    [InlineData(405, "method-not-allowed")]
    [InlineData(413, "payload-too-large")]
    [InlineData(500, "internal-error")]
    [InlineData(504, "request-timeout")]
    public void Given_a_known_status_Then_its_generic_type_is_used(int status, string slug)
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
    public void Given_the_catalogue_the_spec_and_the_docs_Then_they_list_the_same_types_with_the_same_status_and_title()
    {
        var spec = OperationCatalog.Parse(RepoFiles.Read(".openapi", "api.yaml")).ProblemTypes;
        var docs = RepoFiles.Read("docs", "problems.md");

        Assert.Equal(
            ProblemTypes.All.Select(t => (t.Uri, t.Status, t.Title)).Order(),
            spec.Select(t => (t.Type, t.Status, t.Title)).Order());
        Assert.All(ProblemTypes.All, t => Assert.Contains($"| {t.Uri} | {t.Status} | {t.Title} |", docs, StringComparison.Ordinal));
    }
}
