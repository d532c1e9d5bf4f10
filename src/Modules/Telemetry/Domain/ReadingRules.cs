using System.Globalization;
using Canopy.Platform.Domain;

namespace Canopy.Telemetry.Domain;

/// <summary>A reading as a device sends it.</summary>
internal readonly record struct IncomingReading(string Metric, double Value, DateTimeOffset RecordedAt);

/// <summary>What is wrong with one reading of a batch, and where (a JSON pointer into the request).</summary>
internal sealed record ReadingViolation(string Pointer, string Detail);

/// <summary>
/// What makes a batch acceptable, all or nothing: each metric is one the device reports, each
/// value lies in its metric's physical range, and each time is at most 5 minutes ahead of the
/// service's clock and not older than the retention window.
/// </summary>
internal static class ReadingRules
{
    public const int MaxReadings = 5000;

    /// <summary>A 422 lists this many violations at most: enough to fix a device, never a 5,000-line answer.</summary>
    public const int MaxListed = 20;

    public static readonly TimeSpan FutureTolerance = TimeSpan.FromMinutes(5);

    /// <summary>The checks that need nothing but the batch and the clock.</summary>
    public static IReadOnlyList<ReadingViolation> CheckValuesAndTimes(IReadOnlyList<IncomingReading> readings, DateTimeOffset now, TimeSpan retention)
    {
        ArgumentNullException.ThrowIfNull(readings);
        var latest = now + FutureTolerance;
        var oldest = now - retention;
        var violations = new List<ReadingViolation>();
        for (var i = 0; i < readings.Count && violations.Count < MaxListed; i++)
        {
            var reading = readings[i];
            var metric = MetricKind.All.FirstOrDefault(m => m.Name == reading.Metric);
            if (metric is null)
            {
                violations.Add(new($"#/readings/{i}/metric", $"'{reading.Metric}' is not a metric."));
                continue;
            }

            if (!metric.Admits(reading.Value))
            {
                violations.Add(new($"#/readings/{i}/value",
                    $"{Number(reading.Value)} is outside the physical range of {metric.Name} ({Number(metric.Min)}…{Number(metric.Max)} {metric.Unit})."));
            }

            if (reading.RecordedAt > latest)
            {
                violations.Add(new($"#/readings/{i}/recorded_at",
                    $"{reading.RecordedAt:O} is more than {FutureTolerance.TotalMinutes:0} minutes ahead of the service's clock ({now:O}); check the device's clock."));
            }
            else if (reading.RecordedAt < oldest)
            {
                violations.Add(new($"#/readings/{i}/recorded_at",
                    $"{reading.RecordedAt:O} is older than the retention window of {retention.TotalDays:0} days."));
            }
        }

        return violations.Count > MaxListed ? violations[..MaxListed] : violations;
    }

    /// <summary>The check that needs the device: every metric is one it reports.</summary>
    public static IReadOnlyList<ReadingViolation> CheckMetricsOfDevice(IReadOnlyList<IncomingReading> readings, IReadOnlyCollection<string> deviceMetrics)
    {
        ArgumentNullException.ThrowIfNull(readings);
        ArgumentNullException.ThrowIfNull(deviceMetrics);
        var violations = new List<ReadingViolation>();
        for (var i = 0; i < readings.Count && violations.Count < MaxListed; i++)
        {
            if (!deviceMetrics.Contains(readings[i].Metric))
            {
                violations.Add(new($"#/readings/{i}/metric",
                    $"This device does not report {readings[i].Metric}; it reports {string.Join(", ", deviceMetrics)}."));
            }
        }

        return violations;
    }

    private static string Number(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
