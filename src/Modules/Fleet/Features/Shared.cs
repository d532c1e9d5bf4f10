using Canopy.Contracts;
using Canopy.Fleet.Domain;
using Canopy.Platform.Data;
using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;
using Npgsql;

namespace Canopy.Fleet.Features;

/// <summary>The keyset of lists ordered by name.</summary>
internal static class Paging
{
    /// <summary>
    /// The keyset of a list ordered by name ignoring case, then id: the two positional
    /// arguments of <c>(lower(name), id) &gt; ($n, $n+1)</c> (SQL NULLs on the first page).
    /// </summary>
    public static NpgsqlParameter[] AfterName(IReadOnlyList<string>? after) =>
    [
        PostgresTransaction.Nullable(after?[0], NpgsqlTypes.NpgsqlDbType.Text),
        PostgresTransaction.Nullable(after is null ? null : Guid.Parse(after[1]), NpgsqlTypes.NpgsqlDbType.Uuid),
    ];

    /// <summary>Where the next page of a list ordered by name starts.</summary>
    public static Canopy.Platform.Data.CursorPosition AfterName(string name, Guid id) => new([name.ToLowerInvariant(), id.ToString()]);
}

internal static class Rules
{
    /// <summary>A broken rule is a 422 naming the member of the body it is about.</summary>
    public static void Require(IBusinessRule rule, string pointer)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (rule.IsBroken())
        {
            throw new ProblemException(ProblemTypes.ValidationFailed, rule.Message, [new FieldError(rule.Message, Pointer: pointer)]);
        }
    }
}

/// <summary>Devices that stop a farm or zone from being archived: a 409 that names them.</summary>
internal static class BlockingDevices
{
    private const int Named = 20;

    public static async Task RefuseIfAnyAsync(PostgresTransaction tx, string column, Guid id, string what, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tx);
        await using var command = tx.Command($"""
            SELECT id, serial_number, status FROM fleet.devices
             WHERE {column} = $1 AND status <> 'DECOMMISSIONED'
             ORDER BY id LIMIT {Named + 1}
            """, id);
        var devices = await PostgresTransaction.ReadAllAsync(command, r => new BlockingDevice
        {
            Id = r.GetGuid(0),
            Serial_number = r.GetString(1),
            Status = WireNames.Parse<DeviceStatus>(r.GetString(2)),
        }, cancellationToken).ConfigureAwait(false);
        if (devices.Count == 0)
        {
            return;
        }

        var serials = string.Join(", ", devices.Take(Named).Select(d => d.Serial_number)) + (devices.Count > Named ? " and more" : "");
        var problem = new ProblemException(ProblemTypes.Conflict,
            $"The {what} still hosts devices that are not decommissioned ({serials}): move or decommission them first.");
        problem.Extensions["blocking_devices"] = devices.Take(Named).ToList();
        throw problem;
    }
}

/// <summary>The Fleet events (payloads documented as FarmEvent, ZoneEvent and DeviceEvent in the spec), written to the outbox.</summary>
internal static class FleetEvents
{
    public const int Version = 1;
    public const string FarmCreated = "farm.created";
    public const string FarmRenamed = "farm.renamed";
    public const string FarmArchived = "farm.archived";
    public const string ZoneCreated = "zone.created";
    public const string ZoneTargetsSet = "zone.targets_set";
    public const string ZoneArchived = "zone.archived";
    public const string DeviceRegistered = "device.registered";
    public const string DeviceActivated = "device.activated";
    public const string DeviceFaultReported = "device.fault_reported";
    public const string DeviceFaultCleared = "device.fault_cleared";
    public const string DeviceMoved = "device.moved";
    public const string DeviceWentOffline = "device.went_offline";
    public const string DeviceCameOnline = "device.came_online";
    public const string DeviceDecommissioned = "device.decommissioned";
    public const string DeviceCredentialRotated = "device.credential_rotated";

    public static IReadOnlyList<string> All { get; } =
    [
        FarmCreated, FarmRenamed, FarmArchived, ZoneCreated, ZoneTargetsSet, ZoneArchived, DeviceRegistered, DeviceActivated,
        DeviceFaultReported, DeviceFaultCleared, DeviceMoved, DeviceWentOffline, DeviceCameOnline, DeviceDecommissioned, DeviceCredentialRotated,
    ];

    public static Task<Guid> AppendAsync(MessageWriter messages, PostgresTransaction tx, string type, object payload, Guid tenantId, Guid aggregateId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(tx);
        return messages.AppendEventAsync(tx.Connection, tx.Transaction, type, Version, payload, tenantId, aggregateId, cancellationToken);
    }
}
