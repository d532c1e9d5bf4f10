using Canopy.Insights.Domain;

namespace Canopy.Insights.Tests;

public sealed class TrendRangeTests
{
    private static readonly DateTimeOffset Noon = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Given_no_range_Then_it_is_the_7_days_before_now_in_hours()
    {
        var (range, _, _) = TrendRange.Resolve(null, null, Noon.AddMinutes(17));

        Assert.Equal(new TrendRange(Noon.AddDays(-7), Noon.AddHours(1), 3600), range);
        Assert.Equal("1h", range!.BucketName);
    }

    [Fact]
    public void Given_exactly_500_five_minute_buckets_Then_5m_fits_and_one_more_minute_needs_hours()
    {
        var fits = TrendRange.Resolve(Noon, Noon.AddMinutes(5 * 500), Noon).Range;
        var over = TrendRange.Resolve(Noon, Noon.AddMinutes((5 * 500) + 1), Noon).Range;

        Assert.Equal(300, fits!.WidthSeconds);
        Assert.Equal(Noon.AddMinutes(2500), fits.To);
        Assert.Equal(3600, over!.WidthSeconds);
    }

    [Fact]
    public void Given_ends_inside_buckets_Then_from_goes_down_and_to_goes_up_to_whole_buckets()
    {
        var range = TrendRange.Resolve(Noon.AddMinutes(7).AddSeconds(3.5), Noon.AddMinutes(61), Noon).Range;

        Assert.Equal((Noon.AddMinutes(5), Noon.AddMinutes(65), 300), (range!.From, range.To, range.WidthSeconds));
    }

    [Fact]
    public void Given_400_days_Then_it_is_charted_in_days_and_a_second_more_or_an_empty_range_is_refused_naming_the_parameter()
    {
        var longest = TrendRange.Resolve(Noon.AddDays(-400), Noon, Noon);
        var tooLong = TrendRange.Resolve(Noon.AddDays(-400).AddSeconds(-1), Noon, Noon);
        var empty = TrendRange.Resolve(Noon, Noon, Noon);

        Assert.Equal(86_400, longest.Range!.WidthSeconds);
        Assert.Equal(401, (longest.Range.To - longest.Range.From).TotalDays);
        Assert.Equal(("to", null), (tooLong.Pointer, tooLong.Range));
        Assert.Equal(("from", null), (empty.Pointer, empty.Range));
        Assert.Contains("before", empty.Problem, StringComparison.Ordinal);
    }
}
