using Canopy.Contracts;
using Canopy.Fleet.Domain;
using Canopy.Fleet.Security;
using Canopy.Platform.Data;
using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Fleet.Features;

/// <summary>A device as stored.</summary>
internal sealed record DeviceRecord(
    Guid Id, string SerialNumber, string ModelId, Guid FarmId, Guid ZoneId, string[] Metrics, DeviceState State,
    string? FaultCode, string? FaultNote, DateTimeOffset? FaultReportedAt, DateTimeOffset? LastSeenAt,
    DateTimeOffset? ActivatedAt, DateTimeOffset? DecommissionedAt, int Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public const string Columns = """
        id, serial_number, model_id, farm_id, zone_id, metrics, status, fault_code, fault_note, fault_reported_at,
        last_seen_at, activated_at, decommissioned_at, version, created_at, updated_at
        """;

    public static DeviceRecord Read(NpgsqlDataReader reader, int offset = 0)
    {
        ArgumentNullException.ThrowIfNull(reader);
        DateTimeOffset? Optional(int i) => reader.IsDBNull(offset + i) ? null : reader.GetFieldValue<DateTimeOffset>(offset + i);
        string? Text(int i) => reader.IsDBNull(offset + i) ? null : reader.GetString(offset + i);
        return new(
            reader.GetGuid(offset), reader.GetString(offset + 1), reader.GetString(offset + 2), reader.GetGuid(offset + 3), reader.GetGuid(offset + 4),
            reader.GetFieldValue<string[]>(offset + 5), DeviceLifecycle.ParseState(reader.GetString(offset + 6)),
            Text(7), Text(8), Optional(9), Optional(10), Optional(11), Optional(12), reader.GetInt32(offset + 13),
            reader.GetFieldValue<DateTimeOffset>(offset + 14), reader.GetFieldValue<DateTimeOffset>(offset + 15));
    }

    public Device ToContract() => new()
    {
        Id = Id,
        Serial_number = SerialNumber,
        Model = ModelId,
        Farm_id = FarmId,
        Zone_id = ZoneId,
        Metrics = Metrics.Select(MetricContract).ToList(),
        Status = StatusContract(State),
        Allowed_verbs = DeviceLifecycle.AllowedVerbs(State).Select(VerbContract).ToList(),
        Fault = Fault(),
        Last_seen_at = LastSeenAt,
        Activated_at = ActivatedAt,
        Decommissioned_at = DecommissionedAt,
        Version = Version,
        Created_at = CreatedAt,
        Updated_at = UpdatedAt,
    };

    public DeviceEvent ToEvent(DeviceState? previous, DeviceRecord? from = null) => new()
    {
        Device_id = Id,
        Serial_number = SerialNumber,
        Model = ModelId,
        Farm_id = FarmId,
        Zone_id = ZoneId,
        Status = StatusContract(State),
        Previous_status = previous?.Name(),
        Version = Version,
        Fault = Fault(),
        From_zone_id = from?.ZoneId,
        From_farm_id = from?.FarmId,
        Last_seen_at = State == DeviceState.Offline || previous == DeviceState.Offline ? LastSeenAt : null,
    };

    private DeviceFault? Fault() => State == DeviceState.Fault && FaultCode is not null
        ? new DeviceFault { Code = WireNames.Parse<FaultCode>(FaultCode), Note = FaultNote!, Reported_at = FaultReportedAt!.Value }
        : null;

    public static DeviceStatus StatusContract(DeviceState state) => WireNames.Parse<DeviceStatus>(state.Name());

    private static Metric MetricContract(string name) => WireNames.Parse<Metric>(name);

    private static Contracts.DeviceVerb VerbContract(Domain.DeviceVerb verb) => WireNames.Parse<Contracts.DeviceVerb>(verb.Name());
}

/// <summary>Devices: register, list, read, and the verbs of their state machine.</summary>
internal sealed class Devices(FleetDatabase database, MessageWriter messages, CursorCodec cursors, TimeProvider time)
{
    public const string SerialConstraint = "devices_live_serial";

    public async Task<(DeviceRecord Device, DeviceCredential Credential)> RegisterAsync(Actor actor, RegisterDeviceRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(request);
        var now = time.GetUtcNow();
        await using var tx = await database.ChangeAsync(actor.TenantId, cancellationToken).ConfigureAwait(false);
        var modelMetrics = await DeviceModels.MetricsOfAsync(tx, request.Model, cancellationToken).ConfigureAwait(false)
            ?? throw new ProblemException(ProblemTypes.ValidationFailed, $"There is no device model '{request.Model}'; see listDeviceModels.",
                [new FieldError("Not a model of the catalogue.", Pointer: "#/model")]);
        var metrics = request.Metrics is { Count: > 0 } asked ? asked.Select(WireNames.Of).ToArray() : modelMetrics;
        Rules.Require(new DeviceMetricsMustBeOfItsModelRule(metrics, modelMetrics, request.Model), "#/metrics");
        var zone = await Zones.FindAsync(tx, request.Zone_id, "FOR KEY SHARE", cancellationToken).ConfigureAwait(false) ?? throw FleetDatabase.NotFound("zone");
        var device = new DeviceRecord(Guid.CreateVersion7(now), request.Serial_number, request.Model, zone.FarmId, zone.Id, metrics, DeviceState.Provisioned,
            null, null, null, null, null, null, 1, now, now);
        try
        {
            await tx.ExecuteAsync("""
                INSERT INTO fleet.devices (id, tenant_id, serial_number, model_id, farm_id, zone_id, metrics, status, created_at, updated_at, created_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, 'PROVISIONED', $8, $8, $9)
                """, cancellationToken, device.Id, actor.TenantId, device.SerialNumber, device.ModelId, device.FarmId, device.ZoneId,
                device.Metrics, now, PostgresTransaction.Nullable(actor.UserId, NpgsqlDbType.Uuid)).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (FleetDatabase.IsUniqueViolation(ex, SerialConstraint))
        {
            throw new ProblemException(ProblemTypes.Conflict,
                $"Your organisation already has a device with serial number {device.SerialNumber} that is not decommissioned.",
                [new FieldError("This serial number is taken.", Pointer: "#/serial_number")]);
        }

        var credential = await IssueCredentialAsync(tx, actor.TenantId, device.Id, now, cancellationToken).ConfigureAwait(false);
        await FleetEvents.AppendAsync(messages, tx, FleetEvents.DeviceRegistered, device.ToEvent(previous: null), actor.TenantId, device.Id, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (device, credential);
    }

    public async Task<DevicePage> ListAsync(Guid tenantId, DeviceListFilter filter, string? cursor, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var filters = CursorCodec.HashFilters(("list", "devices"), ("status", filter.Status?.Name()), ("farm_id", filter.FarmId?.ToString()),
            ("zone_id", filter.ZoneId?.ToString()), ("model", filter.Model));
        Guid? after = cursor is null ? null : Guid.Parse(cursors.Decode(cursor, filters).After[0]);
        var devices = await database.ReadOnceAsync(tenantId, $"""
            SELECT {DeviceRecord.Columns} FROM fleet.devices
             WHERE ($1::text IS NULL OR status = $1)
               AND ($2::uuid IS NULL OR farm_id = $2)
               AND ($3::uuid IS NULL OR zone_id = $3)
               AND ($4::text IS NULL OR model_id = $4)
               AND ($5::uuid IS NULL OR id > $5)
             ORDER BY id
             LIMIT $6
            """, r => DeviceRecord.Read(r), cancellationToken,
            PostgresTransaction.Nullable(filter.Status?.Name(), NpgsqlDbType.Text),
            PostgresTransaction.Nullable(filter.FarmId, NpgsqlDbType.Uuid),
            PostgresTransaction.Nullable(filter.ZoneId, NpgsqlDbType.Uuid),
            PostgresTransaction.Nullable(filter.Model, NpgsqlDbType.Text),
            PostgresTransaction.Nullable(after, NpgsqlDbType.Uuid),
            limit + 1).ConfigureAwait(false);
        var (page, next) = Pages.Cut(devices, limit, last => cursors.Encode(new CursorPosition([last.Id.ToString()]), filters));
        return new DevicePage { Data = page.Select(d => d.ToContract()).ToList(), Has_more = next is not null, Next_cursor = next };
    }

    /// <summary>The hot read (DESIGN.md's "device by id"): one round trip.</summary>
    public async Task<DeviceRecord> GetAsync(Guid tenantId, Guid deviceId, CancellationToken cancellationToken)
    {
        var found = await database.ReadOnceAsync(tenantId, $"SELECT {DeviceRecord.Columns} FROM fleet.devices WHERE id = $1", r => DeviceRecord.Read(r), cancellationToken, deviceId).ConfigureAwait(false);
        return found.Count == 1 ? found[0] : throw FleetDatabase.NotFound("device");
    }

    public Task<DeviceRecord> ActivateAsync(Actor actor, Guid deviceId, string? ifMatch, CancellationToken cancellationToken) =>
        ApplyAsync(actor, deviceId, ifMatch, Domain.DeviceVerb.Activate, FleetEvents.DeviceActivated, async (tx, device, now) =>
        {
            await tx.ExecuteAsync("UPDATE fleet.devices SET status = 'ACTIVE', activated_at = $2, version = $3, updated_at = $2 WHERE id = $1",
                cancellationToken, device.Id, now, device.Version + 1).ConfigureAwait(false);
            return device with { State = DeviceState.Active, ActivatedAt = now, Version = device.Version + 1, UpdatedAt = now };
        }, cancellationToken);

    public Task<DeviceRecord> ReportFaultAsync(Actor actor, Guid deviceId, string? ifMatch, ReportDeviceFaultRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var code = WireNames.Of(request.Code);
        var note = request.Note.Trim();
        return ApplyAsync(actor, deviceId, ifMatch, Domain.DeviceVerb.ReportFault, FleetEvents.DeviceFaultReported, async (tx, device, now) =>
        {
            await tx.ExecuteAsync("""
                UPDATE fleet.devices SET status = 'FAULT', fault_code = $2, fault_note = $3, fault_reported_at = $4, version = $5, updated_at = $4
                 WHERE id = $1
                """, cancellationToken, device.Id, code, note, now, device.Version + 1).ConfigureAwait(false);
            return device with { State = DeviceState.Fault, FaultCode = code, FaultNote = note, FaultReportedAt = now, Version = device.Version + 1, UpdatedAt = now };
        }, cancellationToken);
    }

    public Task<DeviceRecord> ClearFaultAsync(Actor actor, Guid deviceId, string? ifMatch, CancellationToken cancellationToken) =>
        ApplyAsync(actor, deviceId, ifMatch, Domain.DeviceVerb.ClearFault, FleetEvents.DeviceFaultCleared, async (tx, device, now) =>
        {
            await tx.ExecuteAsync("""
                UPDATE fleet.devices SET status = 'ACTIVE', fault_code = NULL, fault_note = NULL, fault_reported_at = NULL, version = $3, updated_at = $2
                 WHERE id = $1
                """, cancellationToken, device.Id, now, device.Version + 1).ConfigureAwait(false);
            return device with { State = DeviceState.Active, FaultCode = null, FaultNote = null, FaultReportedAt = null, Version = device.Version + 1, UpdatedAt = now };
        }, cancellationToken);

    public async Task<DeviceRecord> MoveAsync(Actor actor, Guid deviceId, string? ifMatch, Guid zoneId, CancellationToken cancellationToken)
    {
        DeviceRecord? before = null;
        return await ApplyAsync(actor, deviceId, ifMatch, Domain.DeviceVerb.Move, FleetEvents.DeviceMoved, async (tx, device, now) =>
        {
            before = device;
            var zone = await Zones.FindAsync(tx, zoneId, "FOR KEY SHARE", cancellationToken).ConfigureAwait(false) ?? throw FleetDatabase.NotFound("zone");
            if (zone.Id == device.ZoneId)
            {
                throw new ProblemException(ProblemTypes.Conflict, "The device is already in this zone.", [new FieldError("The device's current zone.", Pointer: "#/zone_id")]);
            }

            await tx.ExecuteAsync("UPDATE fleet.devices SET zone_id = $2, farm_id = $3, version = $4, updated_at = $5 WHERE id = $1",
                cancellationToken, device.Id, zone.Id, zone.FarmId, device.Version + 1, now).ConfigureAwait(false);
            return device with { ZoneId = zone.Id, FarmId = zone.FarmId, Version = device.Version + 1, UpdatedAt = now };
        }, cancellationToken, moved => moved.ToEvent(moved.State, before)).ConfigureAwait(false);
    }

    public Task<DeviceRecord> DecommissionAsync(Actor actor, Guid deviceId, string? ifMatch, CancellationToken cancellationToken) =>
        ApplyAsync(actor, deviceId, ifMatch, Domain.DeviceVerb.Decommission, FleetEvents.DeviceDecommissioned, async (tx, device, now) =>
        {
            await tx.ExecuteAsync("""
                UPDATE fleet.devices SET status = 'DECOMMISSIONED', decommissioned_at = $2, fault_code = NULL, fault_note = NULL,
                       fault_reported_at = NULL, version = $3, updated_at = $2
                 WHERE id = $1
                """, cancellationToken, device.Id, now, device.Version + 1).ConfigureAwait(false);
            await RevokeCredentialsAsync(tx, device.Id, now, cancellationToken).ConfigureAwait(false);
            return device with
            {
                State = DeviceState.Decommissioned, DecommissionedAt = now, FaultCode = null, FaultNote = null, FaultReportedAt = null,
                Version = device.Version + 1, UpdatedAt = now,
            };
        }, cancellationToken);

    public async Task<(DeviceRecord Device, DeviceCredential Credential)> RotateCredentialAsync(Actor actor, Guid deviceId, string? ifMatch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        DeviceCredential? credential = null;
        var device = await ApplyAsync(actor, deviceId, ifMatch, Domain.DeviceVerb.RotateCredential, FleetEvents.DeviceCredentialRotated, async (tx, device, now) =>
        {
            await RevokeCredentialsAsync(tx, device.Id, now, cancellationToken).ConfigureAwait(false);
            credential = await IssueCredentialAsync(tx, actor.TenantId, device.Id, now, cancellationToken).ConfigureAwait(false);
            await tx.ExecuteAsync("UPDATE fleet.devices SET version = $2, updated_at = $3 WHERE id = $1", cancellationToken, device.Id, device.Version + 1, now).ConfigureAwait(false);
            return device with { Version = device.Version + 1, UpdatedAt = now };
        }, cancellationToken).ConfigureAwait(false);
        return (device, credential!);
    }

    /// <summary>
    /// One verb, in one transaction: the device locked, then 404, 412 (a stale If-Match wins over
    /// a state conflict, so the loser of a race learns to read again), 409 from the state machine,
    /// the change, and its event in the outbox.
    /// </summary>
    private async Task<DeviceRecord> ApplyAsync(
        Actor actor, Guid deviceId, string? ifMatch, Domain.DeviceVerb verb, string eventType,
        Func<PostgresTransaction, DeviceRecord, DateTimeOffset, Task<DeviceRecord>> change, CancellationToken cancellationToken,
        Func<DeviceRecord, DeviceEvent>? describe = null)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var now = time.GetUtcNow();
        await using var tx = await database.ChangeAsync(actor.TenantId, cancellationToken).ConfigureAwait(false);
        var device = await FindAsync(tx, deviceId, locking: true, cancellationToken).ConfigureAwait(false) ?? throw FleetDatabase.NotFound("device");
        EntityTag.RequireMatch(ifMatch, device.Version);
        try
        {
            DeviceLifecycle.Apply(device.State, verb);
        }
        catch (IllegalTransitionException ex)
        {
            var problem = new ProblemException(ProblemTypes.Conflict, ex.Message);
            problem.Extensions["current_state"] = ex.Current.Name();
            problem.Extensions["allowed_verbs"] = ex.Allowed.Select(v => v.Name()).ToList();
            throw problem;
        }

        var changed = await change(tx, device, now).ConfigureAwait(false);
        var payload = describe?.Invoke(changed) ?? changed.ToEvent(device.State);
        await FleetEvents.AppendAsync(messages, tx, eventType, payload, actor.TenantId, deviceId, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed;
    }

    public static async Task<DeviceRecord?> FindAsync(PostgresTransaction tx, Guid deviceId, bool locking, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tx);
        await using var command = tx.Command($"SELECT {DeviceRecord.Columns} FROM fleet.devices WHERE id = $1" + (locking ? " FOR UPDATE" : ""), deviceId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? DeviceRecord.Read(reader) : null;
    }

    private static async Task<DeviceCredential> IssueCredentialAsync(PostgresTransaction tx, Guid tenantId, Guid deviceId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var secret = DeviceSecrets.New();
        await tx.ExecuteAsync("INSERT INTO fleet.device_credentials (id, tenant_id, device_id, secret_hash, issued_at) VALUES ($1, $2, $3, $4, $5)",
            cancellationToken, Guid.CreateVersion7(now), tenantId, deviceId,
            new NpgsqlParameter { Value = DeviceSecrets.Hash(secret), NpgsqlDbType = NpgsqlDbType.Bytea }, now).ConfigureAwait(false);
        return new DeviceCredential { Secret = secret, Issued_at = now };
    }

    private static async Task RevokeCredentialsAsync(PostgresTransaction tx, Guid deviceId, DateTimeOffset now, CancellationToken cancellationToken) =>
        await tx.ExecuteAsync("UPDATE fleet.device_credentials SET revoked_at = $2 WHERE device_id = $1 AND revoked_at IS NULL", cancellationToken, deviceId, now).ConfigureAwait(false);
}

/// <summary>The filters of a device list.</summary>
internal sealed record DeviceListFilter(DeviceState? Status, Guid? FarmId, Guid? ZoneId, string? Model);
