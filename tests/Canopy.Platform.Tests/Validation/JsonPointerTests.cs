using Canopy.Platform.Validation;

namespace Canopy.Platform.Tests.Validation;

public sealed class JsonPointerTests
{
    [Theory]
    [InlineData("$", "#")]
    [InlineData("", "#")]
    [InlineData("$.name", "#/name")]
    [InlineData("$.readings[3].value", "#/readings/3/value")]
    [InlineData("readings[3].value", "#/readings/3/value")]
    [InlineData("$['odd/name'].x", "#/odd~1name/x")]
    [InlineData("a~b", "#/a~0b")]
    public void Given_a_framework_member_path_Then_it_becomes_an_rfc6901_pointer(string path, string expected)
    {
        Assert.Equal(expected, JsonPointer.FromPath(path));
    }
}
