using System.ComponentModel.DataAnnotations;

namespace Canopy.Telemetry;

/// <summary>
/// Telemetry settings (section <c>Telemetry</c>). The device-token keys come from the
/// environment, never from a committed file; the service refuses to start without them.
/// </summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    [Required(ErrorMessage = "Telemetry__DeviceTokenIssuer is required.")]
    public string DeviceTokenIssuer { get; set; } = "";

    /// <summary>The audience of device tokens: never the members' API audience.</summary>
    [Required]
    public string DeviceTokenAudience { get; set; } = "canopy-devices";

    /// <summary>Device-token lifetime; at most 15 minutes.</summary>
    [Range(1, 15)]
    public int DeviceTokenMinutes { get; set; } = 15;

    /// <summary>ES256 keys of device tokens by key id (PEM, or base64 of a PKCS#8 P-256 private key). Older keys keep verifying.</summary>
    public Dictionary<string, string> DeviceSigningKeys { get; } = [];

    [Required(ErrorMessage = "Telemetry__ActiveDeviceSigningKey is required.")]
    public string ActiveDeviceSigningKey { get; set; } = "";

    /// <summary>Readings older than this are refused at ingestion and dropped with their monthly partition.</summary>
    [Range(31, 3650)]
    public int RetentionDays { get; set; } = 400;

    /// <summary>Batches written at once by this instance; more wait for a turn.</summary>
    [Range(1, 1000)]
    public int MaxConcurrentBatches { get; set; } = 16;

    /// <summary>How long a batch may wait for a turn and a connection before it is answered 503.</summary>
    [Range(10, 30_000)]
    public int MaxBatchWaitMilliseconds { get; set; } = 2000;

    /// <summary>A device seen more recently than this is not reported to Fleet again (its last_seen_at is that fresh).</summary>
    [Range(1, 3600)]
    public int SightingIntervalSeconds { get; set; } = 60;

    /// <summary>How often the rollup worker looks for new readings.</summary>
    [Range(50, 60_000)]
    public int RollupIntervalMilliseconds { get; set; } = 1000;

    /// <summary>5-minute buckets recomputed per rollup transaction.</summary>
    [Range(1, 100_000)]
    public int RollupBatch { get; set; } = 2000;

    /// <summary>How often partitions are created ahead and expired ones dropped.</summary>
    [Range(1, 1440)]
    public int PartitionCheckMinutes { get; set; } = 60;

    /// <summary>Events buffered per live-stream client; a client that falls further behind is disconnected.</summary>
    [Range(1, 100_000)]
    public int StreamClientBuffer { get; set; } = 256;

    /// <summary>Events kept per zone and device for resuming with Last-Event-ID (a batch of 5,000 readings is one event of about 350 kB).</summary>
    [Range(10, 100_000)]
    public int StreamReplayEvents { get; set; } = 1000;

    /// <summary>Events older than this leave the replay buffer whatever their number.</summary>
    [Range(1, 1440)]
    public int StreamReplayMinutes { get; set; } = 15;

    /// <summary>
    /// Batches the feed of stored readings (Alerting's input) keeps at most, handled or not: a
    /// bound on Redis's memory when its consumers stop; they delete what they have handled.
    /// </summary>
    [Range(100, 1_000_000)]
    public int FeedMaxEntries { get; set; } = 20_000;

    [Range(1, 300)]
    public int StreamKeepAliveSeconds { get; set; } = 15;

    /// <summary>The reconnection delay the stream advises (<c>retry:</c>).</summary>
    [Range(100, 60_000)]
    public int StreamRetryMilliseconds { get; set; } = 3000;

    /// <summary>How long a client being disconnected gets to take its final event before the connection is cut.</summary>
    [Range(1, 60)]
    public int StreamCloseGraceSeconds { get; set; } = 5;
}
