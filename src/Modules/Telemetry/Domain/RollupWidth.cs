namespace Canopy.Telemetry.Domain;

/// <summary>The width of a rollup bucket in seconds, as stored (telemetry.rollups.width).</summary>
internal enum RollupWidth
{
    FiveMinutes = 300,
    Hour = 3600,
    Day = 86400,
}

internal static class RollupBuckets
{
    /// <summary>The start of the bucket holding <paramref name="time"/> (UTC; buckets align to the Unix epoch).</summary>
    public static DateTimeOffset StartOf(DateTimeOffset time, RollupWidth width)
    {
        var seconds = time.ToUnixTimeSeconds();
        var size = (long)width;
        var start = seconds - (((seconds % size) + size) % size);
        return DateTimeOffset.FromUnixTimeSeconds(start);
    }

    public static TimeSpan Length(this RollupWidth width) => TimeSpan.FromSeconds((int)width);
}
