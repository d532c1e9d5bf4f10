using Canopy.Platform.Spec;
using Canopy.Platform.Validation;
using Microsoft.AspNetCore.Http;

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

    [Theory]
    [InlineData("", false, 0)]
    [InlineData("", true, 1)]
    [InlineData("0193a0c4-8a1e-7c4e-9a55-2b8f0f7c1d42", true, 0)]
    public void Given_an_empty_header_Then_it_counts_as_not_sent(string value, bool required, int violations)
    {
        // Generated clients send "" for an optional header left out (the TypeScript client does).
        var key = new ParameterSpec("Idempotency-Key", "header", required, "string", null, null, 1, 257, null, null);
        var http = new DefaultHttpContext();
        http.Request.Headers["Idempotency-Key"] = value;

        var errors = ParameterConstraintFilter.Check(new OperationSpec("renameFarm", "POST", "/api/v1/farms/{farm_id}/rename", [key], new Dictionary<string, string>()), http);

        Assert.Equal(violations, errors.Count);
    }
}
