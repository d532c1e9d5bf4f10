using Canopy.Platform.Data;
using Canopy.Platform.Problems;
using Microsoft.Extensions.Options;

namespace Canopy.Platform.Tests.Data;

public sealed class CursorCodecTests
{
    private static readonly CursorCodec Codec = new(Options.Create(new CursorOptions { Key = Convert.ToBase64String(new byte[32]) }));
    private static readonly string Filters = CursorCodec.HashFilters(("status", "ACTIVE"), ("zone_id", null));

    [Fact]
    public void Given_a_position_Then_it_round_trips_through_an_opaque_url_safe_cursor()
    {
        var cursor = Codec.Encode(new CursorPosition(["2026-11-21T10:00:00Z", "0193a0c4-8a1e-7c4e-9a55-2b8f0f7c1d42"], Backward: true), Filters);

        var position = Codec.Decode(cursor, Filters);

        Assert.Matches("^[A-Za-z0-9_.-]+$", cursor);
        Assert.Equal(["2026-11-21T10:00:00Z", "0193a0c4-8a1e-7c4e-9a55-2b8f0f7c1d42"], position.After);
        Assert.True(position.Backward);
    }

    [Fact]
    public void Given_filters_in_another_order_Then_the_hash_is_the_same()
    {
        Assert.Equal(Filters, CursorCodec.HashFilters(("zone_id", null), ("status", "ACTIVE")));
        Assert.NotEqual(Filters, CursorCodec.HashFilters(("status", "FAULT"), ("zone_id", null)));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("a.b.c")]
    [InlineData("!!!.???")]
    [InlineData("")]
    public void Given_a_cursor_this_service_did_not_issue_Then_400_naming_the_parameter(string cursor)
    {
        var error = Assert.Throws<ProblemException>(() => Codec.Decode(cursor, Filters));

        Assert.Equal(400, error.Type.Status);
        Assert.Equal("cursor", Assert.Single(error.Errors).Parameter);
    }

    [Fact]
    public void Given_a_cursor_with_one_changed_character_or_other_filters_or_another_key_Then_400()
    {
        var cursor = Codec.Encode(new CursorPosition(["42"]), Filters);
        var tampered = (cursor[0] == 'e' ? "f" : "e") + cursor[1..];
        var otherKey = new CursorCodec(Options.Create(new CursorOptions { Key = Convert.ToBase64String(Enumerable.Repeat((byte)7, 32).ToArray()) }));

        Assert.Throws<ProblemException>(() => Codec.Decode(tampered, Filters));
        Assert.Throws<ProblemException>(() => Codec.Decode(cursor, CursorCodec.HashFilters(("status", "FAULT"))));
        Assert.Throws<ProblemException>(() => otherKey.Decode(cursor, Filters));
    }

    [Fact]
    public void Given_a_key_shorter_than_32_bytes_Then_it_is_refused()
    {
        Assert.Throws<OptionsValidationException>(() => CursorCodec.ParseKey(Convert.ToBase64String(new byte[31])));
    }
}
