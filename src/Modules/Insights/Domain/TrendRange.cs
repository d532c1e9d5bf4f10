namespace Canopy.Insights.Domain;

/// <summary>A chart's range, widened to whole buckets of the narrowest width that fits it in <see cref="MaxPoints"/> points.</summary>
internal sealed record TrendRange(DateTimeOffset From, DateTimeOffset To, int WidthSeconds)
{
    public const int MaxPoints = 500;
    public static readonly TimeSpan MaxSpan = TimeSpan.FromDays(400);
    public static readonly TimeSpan DefaultSpan = TimeSpan.FromDays(7);

    /// <summary>The rollup widths, narrowest first, with their wire names.</summary>
    public static readonly IReadOnlyList<(int Seconds, string Name)> Widths = [(300, "5m"), (3600, "1h"), (86_400, "1d")];

    private static readonly DateTimeOffset Origin = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public string BucketName => Widths.Single(w => w.Seconds == WidthSeconds).Name;

    /// <summary>
    /// The range to chart, or why it cannot be: <paramref name="to"/> defaults to
    /// <paramref name="now"/>, <paramref name="from"/> to 7 days before it; from must be before to
    /// and the span at most 400 days.
    /// </summary>
    public static (TrendRange? Range, string? Pointer, string? Problem) Resolve(DateTimeOffset? from, DateTimeOffset? to, DateTimeOffset now)
    {
        var end = to ?? now;
        var start = from ?? end - DefaultSpan;
        if (start >= end)
        {
            return (null, "from", "`from` must be before `to`.");
        }

        if (end - start > MaxSpan)
        {
            return (null, "to", $"The range spans {(end - start).TotalDays:0.#} days; a chart covers at most {MaxSpan.TotalDays:0} days (the retention of readings).");
        }

        foreach (var (seconds, _) in Widths)
        {
            var (alignedFrom, alignedTo) = (Floor(start, seconds), Ceiling(end, seconds));
            if ((alignedTo - alignedFrom).TotalSeconds / seconds <= MaxPoints)
            {
                return (new TrendRange(alignedFrom, alignedTo, seconds), null, null);
            }
        }

        // 400 days in days is 401 buckets at most: the widest width always fits.
        throw new InvalidOperationException("No width fits the range.");
    }

    private static DateTimeOffset Floor(DateTimeOffset at, int seconds)
    {
        var offset = (long)(at - Origin).TotalSeconds;
        var floored = offset - (((offset % seconds) + seconds) % seconds);
        return Origin.AddSeconds(floored);
    }

    private static DateTimeOffset Ceiling(DateTimeOffset at, int seconds)
    {
        var floor = Floor(at, seconds);
        return floor == at ? at : floor.AddSeconds(seconds);
    }
}
