using Canopy.Fleet.Domain;
using Canopy.Platform.Messaging;
using Npgsql;

namespace Canopy.Fleet.Features;

/// <summary>
/// A device that sent readings (Telemetry's telemetry.device_reported): its last_seen_at moves
/// forward, and an OFFLINE device turns ACTIVE again with a device.came_online event. Fleet
/// changes its own rows here; Telemetry never does.
/// </summary>
internal sealed class DeviceSightings(MessageWriter messages, TimeProvider time) : IEventSubscriber
{
    public const string DeviceReported = "telemetry.device_reported";

    public string Name => "fleet.device-sightings";

    public string Owner => "fleet";

    public IReadOnlyCollection<string> EventTypes { get; } = [DeviceReported];

    public async Task HandleAsync(OutboxEvent message, MessageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        if (message.TenantId is not { } tenantId
            || !message.Payload.TryGetProperty("device_id", out var idValue) || !idValue.TryGetGuid(out var deviceId)
            || !message.Payload.TryGetProperty("seen_at", out var seenValue) || !seenValue.TryGetDateTimeOffset(out var seenAt))
        {
            throw new PoisonMessageException("telemetry.device_reported needs a tenant, a device_id and a seen_at.");
        }

        await using var select = new NpgsqlCommand($"SELECT {DeviceRecord.Columns} FROM fleet.devices WHERE id = $1 FOR UPDATE", context.Connection, context.Transaction);
        select.Parameters.Add(new NpgsqlParameter { Value = deviceId });
        DeviceRecord? device = null;
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                device = DeviceRecord.Read(reader);
            }
        }

        // A device decommissioned since, or a sighting older than one already recorded: nothing to do.
        if (device is null || device.State == DeviceState.Decommissioned || device.LastSeenAt >= seenAt)
        {
            return;
        }

        var state = DeviceLifecycle.OnReport(device.State);
        var changed = state != device.State;
        var now = time.GetUtcNow();
        await using var update = new NpgsqlCommand("""
            UPDATE fleet.devices SET last_seen_at = $2, status = $3,
                   version = version + CASE WHEN $4 THEN 1 ELSE 0 END,
                   updated_at = CASE WHEN $4 THEN $5 ELSE updated_at END
             WHERE id = $1
            """, context.Connection, context.Transaction);
        update.Parameters.Add(new NpgsqlParameter { Value = deviceId });
        update.Parameters.Add(new NpgsqlParameter { Value = seenAt });
        update.Parameters.Add(new NpgsqlParameter { Value = state.Name() });
        update.Parameters.Add(new NpgsqlParameter { Value = changed });
        update.Parameters.Add(new NpgsqlParameter { Value = now });
        await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (changed)
        {
            var online = device with { State = state, LastSeenAt = seenAt, Version = device.Version + 1, UpdatedAt = now };
            await messages.AppendEventAsync(context.Connection, context.Transaction, FleetEvents.DeviceCameOnline, FleetEvents.Version,
                online.ToEvent(device.State), tenantId, deviceId, cancellationToken).ConfigureAwait(false);
        }
    }
}
