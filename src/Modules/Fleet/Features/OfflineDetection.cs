using System.ComponentModel.DataAnnotations;
using Canopy.Fleet.Domain;
using Canopy.Platform.Messaging;
using Canopy.Platform.Observability;
using Canopy.Platform.Postgres;
using Canopy.Platform.Workers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Canopy.Fleet.Features;

public sealed class FleetOptions
{
    public const string Section = "Fleet";

    /// <summary>An ACTIVE device silent for this long (since its last reading, or its activation) goes OFFLINE.</summary>
    [Range(30, 7 * 24 * 3600)]
    public int OfflineAfterSeconds { get; set; } = 900;

    /// <summary>How often the sweep looks for silent devices.</summary>
    [Range(1, 3600)]
    public int OfflineSweepSeconds { get; set; } = 60;
}

/// <summary>
/// Marks ACTIVE devices OFFLINE once they have been silent longer than the configured time, with
/// a device.went_offline event each. It runs in every worker process: SKIP LOCKED lets two sweeps
/// share the work, and a device a verb is changing right now is simply left for the next sweep.
/// </summary>
internal sealed partial class OfflineDetection : ResilientWorker
{
    private const int Batch = 500;
    private readonly PostgresDataSources _dataSources;
    private readonly MessageWriter _messages;
    private readonly IOptions<FleetOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<OfflineDetection> _logger;

    public OfflineDetection(
        PostgresDataSources dataSources, MessageWriter messages, IOptions<FleetOptions> options, CanopyMetrics metrics, TimeProvider time, ILogger<OfflineDetection> logger)
        : base(logger, metrics, time)
    {
        _dataSources = dataSources;
        _messages = messages;
        _options = options;
        _time = time;
        _logger = logger;
    }

    protected override string Name => "fleet-offline-detection";

    protected override TimeSpan Interval => TimeSpan.FromSeconds(_options.Value.OfflineSweepSeconds);

    protected override async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        int marked;
        do
        {
            marked = await SweepAsync(stoppingToken).ConfigureAwait(false);
        }
        while (marked == Batch && !stoppingToken.IsCancellationRequested);
    }

    /// <summary>One batch, in one platform-scope transaction; returns how many devices went offline.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var silentSince = now.AddSeconds(-_options.Value.OfflineAfterSeconds);
        await using var tx = await PostgresTransaction.BeginAsync(_dataSources.Primary, null, cancellationToken).ConfigureAwait(false);
        await tx.EnterPlatformScopeAsync(cancellationToken).ConfigureAwait(false);
        await using var select = tx.Command($"""
            SELECT tenant_id, {DeviceRecord.Columns} FROM fleet.devices
             WHERE status = 'ACTIVE' AND COALESCE(last_seen_at, activated_at) < $1
             ORDER BY COALESCE(last_seen_at, activated_at)
             LIMIT {Batch}
             FOR UPDATE SKIP LOCKED
            """, silentSince);
        var silent = await PostgresTransaction.ReadAllAsync(select, r => (Tenant: r.GetGuid(0), Device: ReadShifted(r)), cancellationToken).ConfigureAwait(false);
        // One statement for the batch (the rows are locked above), then one event each.
        await tx.ExecuteAsync("UPDATE fleet.devices SET status = 'OFFLINE', version = version + 1, updated_at = $2 WHERE id = ANY($1)",
            cancellationToken, silent.Select(s => s.Device.Id).ToArray(), now).ConfigureAwait(false);
        foreach (var (tenant, device) in silent)
        {
            var offline = device with { State = DeviceState.Offline, Version = device.Version + 1, UpdatedAt = now };
            await _messages.AppendEventAsync(tx.Connection, tx.Transaction, FleetEvents.DeviceWentOffline, FleetEvents.Version,
                offline.ToEvent(device.State), tenant, device.Id, cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        if (silent.Count > 0)
        {
            LogWentOffline(_logger, silent.Count, _options.Value.OfflineAfterSeconds);
        }

        return silent.Count;
    }

    /// <summary>A device row read after a leading tenant_id column.</summary>
    private static DeviceRecord ReadShifted(Npgsql.NpgsqlDataReader reader) => DeviceRecord.Read(reader, offset: 1);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} device(s) went offline after {Seconds} s of silence")]
    private static partial void LogWentOffline(ILogger logger, int count, int seconds);
}
