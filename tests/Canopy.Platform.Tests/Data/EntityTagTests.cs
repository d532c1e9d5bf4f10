using Canopy.Platform.Data;
using Canopy.Platform.Problems;

namespace Canopy.Platform.Tests.Data;

public sealed class EntityTagTests
{
    [Theory]
    [InlineData(null, 428)]
    [InlineData("", 428)]
    [InlineData("\"2\"", 412)]
    [InlineData("\"4\"", 412)]
    [InlineData("W/\"3\"", 412)]
    [InlineData("3", 412)]
    public void Given_if_match_missing_or_not_the_current_tag_Then_428_or_412(string? ifMatch, int status)
    {
        var error = Assert.Throws<ProblemException>(() => EntityTag.RequireMatch(ifMatch, 3));

        Assert.Equal(status, error.Type.Status);
    }

    [Theory]
    [InlineData("\"3\"")]
    [InlineData("*")]
    [InlineData("\"1\", \"3\"")]
    public void Given_the_current_tag_Then_the_change_may_proceed(string ifMatch)
    {
        EntityTag.RequireMatch(ifMatch, 3);
        Assert.Equal("\"3\"", EntityTag.FromVersion(3));
    }

    [Theory]
    [InlineData("\"3\"", true)]
    [InlineData("W/\"3\"", true)]
    [InlineData("\"2\"", false)]
    [InlineData(null, false)]
    public void Given_if_none_match_Then_a_match_means_not_modified(string? header, bool matches)
    {
        Assert.Equal(matches, EntityTag.NoneMatch(header, 3));
    }
}
