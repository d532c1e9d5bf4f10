using Canopy.Platform.Spec;
using Canopy.Platform.Validation;

namespace Canopy.Platform.Tests.Validation;

public sealed class ParameterConstraintTests
{
    private static readonly ParameterSpec Limit = new("limit", "query", false, "integer", 1, 200, null, null, null, null);
    private static readonly ParameterSpec Cursor = new("cursor", "query", false, "string", null, null, null, 12, "^[A-Za-z0-9_-]+$", null);
    private static readonly ParameterSpec Period = new("period", "query", true, "string", null, null, null, null, null, ["week", "month"]);

    [Theory]
    [InlineData("1", true)]
    [InlineData("200", true)]
    [InlineData("0", false)]
    [InlineData("201", false)]
    [InlineData("-1", false)]
    [InlineData("1.5", false)]
    [InlineData("ten", false)]
    [InlineData(null, true)]
    public void Given_limit_values_Then_only_whole_numbers_from_1_to_200_pass(string? raw, bool valid)
    {
        Assert.Equal(valid, ParameterConstraintFilter.Violation(Limit, raw) is null);
    }

    [Theory]
    [InlineData("abcDEF_123-x", true)]
    [InlineData("abcDEF_123-xy", false)]
    [InlineData("has space", false)]
    [InlineData("", false)]
    public void Given_cursor_values_Then_pattern_and_length_apply(string raw, bool valid)
    {
        Assert.Equal(valid, ParameterConstraintFilter.Violation(Cursor, raw) is null);
    }

    [Theory]
    [InlineData("week", true)]
    [InlineData("Week", false)]
    [InlineData(null, false)]
    public void Given_a_required_enum_Then_only_listed_values_pass(string? raw, bool valid)
    {
        Assert.Equal(valid, ParameterConstraintFilter.Violation(Period, raw) is null);
    }
}
