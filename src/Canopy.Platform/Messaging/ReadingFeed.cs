using System.Text.Json;

namespace Canopy.Platform.Messaging;

/// <summary>A reading of the feed: its metric's wire name, its value and its time.</summary>
public readonly record struct FedReading(string Metric, double Value, DateTimeOffset RecordedAt);

/// <summary>One stored batch as the feed carries it: the tenant, the device, the device's zone when the batch was stored, and its readings.</summary>
public sealed record FedBatch(Guid TenantId, Guid DeviceId, Guid ZoneId, IReadOnlyList<FedReading> Readings);

/// <summary>
/// The feed of stored readings, Telemetry's contract with the modules that watch readings as
/// they arrive (Alerting): a Redis stream to which every stored batch of live readings is
/// appended once, with the tenant (<see cref="TenantField"/>) and the batch as the live streams'
/// event data (<see cref="DataField"/>, the spec's <c>TelemetryStreamReadings</c>). Consumers read
/// it through a consumer group of their own and delete what they have handled; the stream is
/// capped, so a consumer stopped for long loses the oldest batches rather than Redis its memory.
/// The readings are stored in PostgreSQL before they enter the feed; a batch whose append failed
/// (Redis down) is stored and streamed nowhere.
/// </summary>
public static class ReadingFeed
{
    public const string Key = "telemetry:feed";

    public const string TenantField = "t";

    public const string DataField = "d";

    /// <summary>Reads a feed entry's fields; null when they are not a batch (a poison entry, to be dropped).</summary>
    public static FedBatch? Parse(string? tenant, string? data)
    {
        if (!Guid.TryParse(tenant, out var tenantId) || data is null)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(data);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("device_id", out var device) || device.ValueKind != JsonValueKind.String || !device.TryGetGuid(out var deviceId)
                || !root.TryGetProperty("zone_id", out var zone) || zone.ValueKind != JsonValueKind.String || !zone.TryGetGuid(out var zoneId)
                || !root.TryGetProperty("readings", out var readings) || readings.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            var list = new List<FedReading>(readings.GetArrayLength());
            foreach (var reading in readings.EnumerateArray())
            {
                if (!reading.TryGetProperty("metric", out var metric) || metric.ValueKind != JsonValueKind.String || metric.GetString() is not { } name
                    || !reading.TryGetProperty("value", out var value) || value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number)
                    || !reading.TryGetProperty("recorded_at", out var at) || at.ValueKind != JsonValueKind.String || !at.TryGetDateTimeOffset(out var recordedAt))
                {
                    return null;
                }

                list.Add(new FedReading(name, number, recordedAt));
            }

            return new FedBatch(tenantId, deviceId, zoneId, list);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
