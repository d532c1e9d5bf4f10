using System.Text.RegularExpressions;
using Canopy.Platform.Domain;
using Canopy.Telemetry.Domain;
using Canopy.Telemetry.Streaming;

namespace Canopy.Telemetry.Tests;

public sealed partial class BucketAndCodeTests
{
    [Theory]
    [InlineData("2026-11-22T10:04:59.999Z", 300, "2026-11-22T10:00:00Z")]
    [InlineData("2026-11-22T10:05:00Z", 300, "2026-11-22T10:05:00Z")]
    [InlineData("2026-11-22T10:59:59Z", 3600, "2026-11-22T10:00:00Z")]
    [InlineData("2026-11-22T23:59:59+02:00", 86400, "2026-11-22T00:00:00Z")]
    [InlineData("1969-12-31T23:58:00Z", 300, "1969-12-31T23:55:00Z")]
    public void Given_a_time_Then_its_bucket_starts_at_the_utc_boundary_at_or_before_it(string time, int seconds, string start)
    {
        Assert.Equal(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture),
            RollupBuckets.StartOf(DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture), (RollupWidth)seconds));
    }

    [Fact]
    public void Given_the_migration_Then_every_metric_has_the_storage_code_the_code_uses()
    {
        var migration = File.ReadAllText(Path.Combine(Root(), "src", "Modules", "Telemetry", "Persistence", "Migrations", "0001_telemetry.sql"));

        var stored = CodePairs().Matches(migration).ToDictionary(m => m.Groups[2].Value, m => short.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(MetricKind.All.Select(m => m.Name).Order(), stored.Keys.Order());
        Assert.All(stored, pair => Assert.Equal(pair.Value, StoredMetrics.Code(pair.Key)));
        Assert.All(stored, pair => Assert.Equal(pair.Key, StoredMetrics.Name(pair.Value)));
    }

    [Theory]
    [InlineData("1732269600000-0", "1732269600000-1", -1)]
    [InlineData("1732269600001-0", "1732269600000-9", 1)]
    [InlineData("999-0", "1000-0", -1)]
    [InlineData("5-5", "5-5", 0)]
    public void Given_two_stream_ids_Then_they_order_as_redis_orders_them(string left, string right, int expected)
    {
        Assert.True(EntryId.TryParse(left, out var a));
        Assert.True(EntryId.TryParse(right, out var b));

        Assert.Equal(expected, Math.Sign(a.CompareTo(b)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("-1-0")]
    [InlineData("12-")]
    [InlineData("1.5-0")]
    public void Given_text_that_is_no_stream_id_Then_it_does_not_parse(string text) => Assert.False(EntryId.TryParse(text, out _));

    [Fact]
    public void Given_a_client_whose_buffer_is_full_Then_the_next_event_closes_it_as_slow_and_nothing_more_is_buffered()
    {
        using var client = new StreamClient(2);

        client.Offer(new StreamEvent("1-0", "readings", "{}"));
        client.Offer(new StreamEvent("2-0", "readings", "{}"));
        Assert.Null(client.CloseReason);
        client.Offer(new StreamEvent("3-0", "readings", "{}"));
        client.Offer(new StreamEvent("4-0", "readings", "{}"));

        Assert.Equal(CloseReasons.SlowConsumer, client.CloseReason);
        Assert.True(client.Closed.IsCancellationRequested);
        Assert.Equal(2, client.Events.Count);
    }

    [Fact]
    public void Given_a_client_closed_for_one_reason_Then_a_later_reason_does_not_replace_it()
    {
        using var client = new StreamClient(2);

        client.Close(CloseReasons.ShuttingDown);
        client.Close(CloseReasons.SlowConsumer);

        Assert.Equal(CloseReasons.ShuttingDown, client.CloseReason);
    }

    [GeneratedRegex(@"\((\d+), '([a-z0-9_]+)'\)")]
    private static partial Regex CodePairs();

    private static string Root()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Canopy.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("The repository root (Canopy.slnx) is not above the test's folder.");
    }
}
