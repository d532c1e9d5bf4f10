using System.Text.Json;
using Canopy.Contracts;
using Canopy.Fleet.Domain;
using Canopy.Platform.Data;
using Canopy.Platform.Domain;
using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Fleet.Features;

/// <summary>A zone as stored.</summary>
internal sealed record ZoneRecord(Guid Id, Guid FarmId, string Name, string Kind, ZoneTargets Targets, int Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public const string Columns = "id, farm_id, name, kind, targets::text, version, created_at, updated_at";

    public static ZoneRecord Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3),
        JsonSerializer.Deserialize<ZoneTargets>(reader.GetString(4)) ?? new ZoneTargets(), reader.GetInt32(5),
        reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7));

    public Zone ToContract() => new()
    {
        Id = Id, Farm_id = FarmId, Name = Name, Kind = WireNames.Parse<ZoneKind>(Kind), Targets = Targets,
        Version = Version, Created_at = CreatedAt, Updated_at = UpdatedAt,
    };

    public ZoneEvent ToEvent() => new()
    {
        Zone_id = Id, Farm_id = FarmId, Name = Name, Kind = WireNames.Parse<ZoneKind>(Kind), Targets = Targets, Version = Version,
    };
}


/// <summary>Zones of a farm: create, list by name, read, set target ranges, archive.</summary>
internal sealed class Zones(FleetDatabase database, MessageWriter messages, CursorCodec cursors, TimeProvider time)
{
    public const string NameConstraint = "zones_live_name";
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    public async Task<ZoneRecord> CreateAsync(Actor actor, Guid farmId, CreateZoneRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(request);
        var targets = request.Targets ?? new ZoneTargets();
        RequirePlausible(targets, "#/targets");
        var now = time.GetUtcNow();
        var zone = new ZoneRecord(Guid.CreateVersion7(now), farmId, request.Name.Trim(), WireNames.Of(request.Kind), targets, 1, now, now);
        await using var tx = await database.ChangeAsync(actor.TenantId, cancellationToken).ConfigureAwait(false);
        // KEY SHARE: an archiving of the farm waits for this zone, or this waits and finds the farm gone.
        await using (var farm = tx.Command("SELECT 1 FROM fleet.farms WHERE id = $1 AND NOT is_deleted FOR KEY SHARE", farmId))
        {
            if (await farm.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
            {
                throw FleetDatabase.NotFound("farm");
            }
        }

        try
        {
            await tx.ExecuteAsync("""
                INSERT INTO fleet.zones (id, tenant_id, farm_id, name, kind, targets, created_at, updated_at, created_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)
                """, cancellationToken, zone.Id, actor.TenantId, farmId, zone.Name, zone.Kind, TargetsParameter(targets), now,
                PostgresTransaction.Nullable(actor.UserId, NpgsqlDbType.Uuid)).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (FleetDatabase.IsUniqueViolation(ex, NameConstraint))
        {
            throw FleetDatabase.NameTaken("The farm already has a zone with this name (names are compared ignoring case); choose another.");
        }

        await FleetEvents.AppendAsync(messages, tx, FleetEvents.ZoneCreated, zone.ToEvent(), actor.TenantId, zone.Id, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return zone;
    }

    public async Task<ZonePage> ListAsync(Guid tenantId, Guid farmId, string? cursor, int limit, CancellationToken cancellationToken)
    {
        var filters = CursorCodec.HashFilters(("list", "zones"), ("farm_id", farmId.ToString()));
        var after = cursor is null ? null : cursors.Decode(cursor, filters).After;
        await using var tx = await database.ReadAsync(tenantId, cancellationToken).ConfigureAwait(false);
        if (await Farms.FindAsync(tx, farmId, locking: false, cancellationToken).ConfigureAwait(false) is null)
        {
            throw FleetDatabase.NotFound("farm");
        }

        var keyset = Paging.AfterName(after);
        await using var command = tx.Command($"""
            SELECT {ZoneRecord.Columns} FROM fleet.zones
             WHERE farm_id = $1 AND NOT is_deleted
               AND ($2::text IS NULL OR (lower(name), id) > ($2, $3::uuid))
             ORDER BY lower(name), id
             LIMIT $4
            """, farmId,
            keyset[0], keyset[1], limit + 1);
        var zones = await PostgresTransaction.ReadAllAsync(command, ZoneRecord.Read, cancellationToken).ConfigureAwait(false);
        var (page, next) = Pages.Cut(zones, limit, last => cursors.Encode(Paging.AfterName(last.Name, last.Id), filters));
        return new ZonePage { Data = page.Select(z => z.ToContract()).ToList(), Has_more = next is not null, Next_cursor = next };
    }

    public async Task<ZoneRecord> GetAsync(Guid tenantId, Guid zoneId, CancellationToken cancellationToken)
    {
        var found = await database.ReadOnceAsync(tenantId, $"SELECT {ZoneRecord.Columns} FROM fleet.zones WHERE id = $1 AND NOT is_deleted", ZoneRecord.Read, cancellationToken, zoneId).ConfigureAwait(false);
        return found.Count == 1 ? found[0] : throw FleetDatabase.NotFound("zone");
    }

    public async Task<ZoneRecord> SetTargetsAsync(Actor actor, Guid zoneId, string? ifMatch, ZoneTargets targets, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(targets);
        RequirePlausible(targets, "#/targets");
        var now = time.GetUtcNow();
        await using var tx = await database.ChangeAsync(actor.TenantId, cancellationToken).ConfigureAwait(false);
        var zone = await FindAsync(tx, zoneId, "FOR NO KEY UPDATE", cancellationToken).ConfigureAwait(false) ?? throw FleetDatabase.NotFound("zone");
        EntityTag.RequireMatch(ifMatch, zone.Version);
        var changed = zone with { Targets = targets, Version = zone.Version + 1, UpdatedAt = now };
        await tx.ExecuteAsync("UPDATE fleet.zones SET targets = $2, version = $3, updated_at = $4 WHERE id = $1",
            cancellationToken, zoneId, TargetsParameter(targets), changed.Version, now).ConfigureAwait(false);
        await FleetEvents.AppendAsync(messages, tx, FleetEvents.ZoneTargetsSet, changed.ToEvent(), actor.TenantId, zoneId, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed;
    }

    /// <summary>Archives the zone, unless a device that is not decommissioned is still in it.</summary>
    public async Task ArchiveAsync(Actor actor, Guid zoneId, string? ifMatch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var now = time.GetUtcNow();
        await using var tx = await database.ChangeAsync(actor.TenantId, cancellationToken).ConfigureAwait(false);
        // FOR UPDATE waits for registrations and moves into the zone (they hold KEY SHARE on it).
        var zone = await FindAsync(tx, zoneId, "FOR UPDATE", cancellationToken).ConfigureAwait(false) ?? throw FleetDatabase.NotFound("zone");
        EntityTag.RequireMatch(ifMatch, zone.Version);
        await BlockingDevices.RefuseIfAnyAsync(tx, "zone_id", zoneId, "zone", cancellationToken).ConfigureAwait(false);
        var archived = zone with { Version = zone.Version + 1, UpdatedAt = now };
        await tx.ExecuteAsync("UPDATE fleet.zones SET is_deleted = true, version = $2, updated_at = $3 WHERE id = $1",
            cancellationToken, zoneId, archived.Version, now).ConfigureAwait(false);
        await FleetEvents.AppendAsync(messages, tx, FleetEvents.ZoneArchived, archived.ToEvent(), actor.TenantId, zoneId, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A live zone, optionally locked (<paramref name="lockClause"/>: FOR UPDATE, FOR KEY SHARE…).</summary>
    public static async Task<ZoneRecord?> FindAsync(PostgresTransaction tx, Guid zoneId, string lockClause, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tx);
        await using var command = tx.Command($"SELECT {ZoneRecord.Columns} FROM fleet.zones WHERE id = $1 AND NOT is_deleted {lockClause}", zoneId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ZoneRecord.Read(reader) : null;
    }

    private static void RequirePlausible(ZoneTargets targets, string pointer)
    {
        foreach (var (metric, range) in Ranges(targets))
        {
            Rules.Require(new TargetRangeMustBePlausibleRule(metric, range.Min, range.Max), $"{pointer}/{metric.Name}");
        }
    }

    private static IEnumerable<(MetricKind Metric, MetricRange Range)> Ranges(ZoneTargets targets)
    {
        (MetricKind, MetricRange?)[] all =
        [
            (MetricKind.TemperatureC, targets.Temperature_c), (MetricKind.HumidityPct, targets.Humidity_pct),
            (MetricKind.SoilMoisturePct, targets.Soil_moisture_pct), (MetricKind.Co2Ppm, targets.Co2_ppm),
            (MetricKind.LightPpfd, targets.Light_ppfd), (MetricKind.BatteryV, targets.Battery_v),
        ];
        return all.Where(t => t.Item2 is not null).Select(t => (t.Item1, t.Item2!));
    }

    private static NpgsqlParameter TargetsParameter(ZoneTargets targets) =>
        new() { Value = JsonSerializer.Serialize(targets, Json), NpgsqlDbType = NpgsqlDbType.Jsonb };
}
