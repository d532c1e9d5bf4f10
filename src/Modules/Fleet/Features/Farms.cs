using Canopy.Contracts;
using Canopy.Fleet.Domain;
using Canopy.Platform.Data;
using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Fleet.Features;

/// <summary>A farm as stored.</summary>
internal sealed record FarmRecord(Guid Id, string Name, double Latitude, double Longitude, string TimeZone, double? AreaHa, int Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public const string Columns = "id, name, latitude, longitude, time_zone, area_ha, version, created_at, updated_at";

    public static FarmRecord Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetString(1), reader.GetDouble(2), reader.GetDouble(3), reader.GetString(4),
        reader.IsDBNull(5) ? null : reader.GetDouble(5), reader.GetInt32(6),
        reader.GetFieldValue<DateTimeOffset>(7), reader.GetFieldValue<DateTimeOffset>(8));

    public Farm ToContract() => new()
    {
        Id = Id, Name = Name, Latitude = Latitude, Longitude = Longitude, Time_zone = TimeZone, Area_ha = AreaHa,
        Version = Version, Created_at = CreatedAt, Updated_at = UpdatedAt,
    };

    public FarmEvent ToEvent() => new() { Farm_id = Id, Name = Name, Time_zone = TimeZone, Version = Version };
}

/// <summary>Farms: create, list by name, read, rename, archive.</summary>
internal sealed class Farms(FleetDatabase database, MessageWriter messages, CursorCodec cursors, TimeProvider time)
{
    public const string NameConstraint = "farms_live_name";

    public async Task<FarmRecord> CreateAsync(Actor actor, CreateFarmRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(request);
        Rules.Require(new TimeZoneMustBeKnownRule(request.Time_zone), "#/time_zone");
        var now = time.GetUtcNow();
        var farm = new FarmRecord(Guid.CreateVersion7(now), request.Name.Trim(), request.Latitude, request.Longitude, request.Time_zone, request.Area_ha, 1, now, now);
        await using var tx = await database.ChangeAsync(actor.TenantId, cancellationToken).ConfigureAwait(false);
        try
        {
            await tx.ExecuteAsync("""
                INSERT INTO fleet.farms (id, tenant_id, name, latitude, longitude, time_zone, area_ha, created_at, updated_at, created_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)
                """, cancellationToken, farm.Id, actor.TenantId, farm.Name, farm.Latitude, farm.Longitude, farm.TimeZone,
                PostgresTransaction.Nullable(farm.AreaHa, NpgsqlDbType.Double), now, PostgresTransaction.Nullable(actor.UserId, NpgsqlDbType.Uuid)).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (FleetDatabase.IsUniqueViolation(ex, NameConstraint))
        {
            throw NameTaken();
        }

        await FleetEvents.AppendAsync(messages, tx, FleetEvents.FarmCreated, farm.ToEvent(), actor.TenantId, farm.Id, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return farm;
    }

    public async Task<FarmPage> ListAsync(Guid tenantId, string? namePrefix, string? cursor, int limit, CancellationToken cancellationToken)
    {
        var filters = CursorCodec.HashFilters(("list", "farms"), ("name_prefix", namePrefix));
        var after = cursor is null ? null : cursors.Decode(cursor, filters).After;
        var keyset = Paging.AfterName(after);
        var farms = await database.ReadOnceAsync(tenantId, $"""
            SELECT {FarmRecord.Columns} FROM fleet.farms
             WHERE NOT is_deleted
               AND ($1::text IS NULL OR starts_with(lower(name), lower($1)))
               AND ($2::text IS NULL OR (lower(name), id) > ($2, $3::uuid))
             ORDER BY lower(name), id
             LIMIT $4
            """, FarmRecord.Read, cancellationToken,
            PostgresTransaction.Nullable(namePrefix, NpgsqlDbType.Text),
            keyset[0], keyset[1], limit + 1).ConfigureAwait(false);
        var (page, next) = Pages.Cut(farms, limit, last => cursors.Encode(Paging.AfterName(last.Name, last.Id), filters));
        return new FarmPage { Data = page.Select(f => f.ToContract()).ToList(), Has_more = next is not null, Next_cursor = next };
    }

    public async Task<FarmRecord> GetAsync(Guid tenantId, Guid farmId, CancellationToken cancellationToken)
    {
        var found = await database.ReadOnceAsync(tenantId, $"SELECT {FarmRecord.Columns} FROM fleet.farms WHERE id = $1 AND NOT is_deleted", FarmRecord.Read, cancellationToken, farmId).ConfigureAwait(false);
        return found.Count == 1 ? found[0] : throw FleetDatabase.NotFound("farm");
    }

    public async Task<FarmRecord> RenameAsync(Actor actor, Guid farmId, string? ifMatch, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(name);
        var now = time.GetUtcNow();
        await using var tx = await database.ChangeAsync(actor.TenantId, cancellationToken).ConfigureAwait(false);
        var farm = await FindAsync(tx, farmId, locking: true, cancellationToken).ConfigureAwait(false) ?? throw FleetDatabase.NotFound("farm");
        EntityTag.RequireMatch(ifMatch, farm.Version);
        var renamed = farm with { Name = name.Trim(), Version = farm.Version + 1, UpdatedAt = now };
        try
        {
            await tx.ExecuteAsync("UPDATE fleet.farms SET name = $2, version = $3, updated_at = $4 WHERE id = $1",
                cancellationToken, farmId, renamed.Name, renamed.Version, now).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (FleetDatabase.IsUniqueViolation(ex, NameConstraint))
        {
            throw NameTaken();
        }

        await FleetEvents.AppendAsync(messages, tx, FleetEvents.FarmRenamed, renamed.ToEvent(), actor.TenantId, farmId, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return renamed;
    }

    /// <summary>Archives the farm and its zones (each with its event), unless a device that is not decommissioned is still in one of them.</summary>
    public async Task ArchiveAsync(Actor actor, Guid farmId, string? ifMatch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var now = time.GetUtcNow();
        await using var tx = await database.ChangeAsync(actor.TenantId, cancellationToken).ConfigureAwait(false);
        var farm = await FindAsync(tx, farmId, locking: true, cancellationToken).ConfigureAwait(false) ?? throw FleetDatabase.NotFound("farm");
        EntityTag.RequireMatch(ifMatch, farm.Version);
        // Registering or moving a device into a zone of this farm holds KEY SHARE on the zone row;
        // locking the zones here makes the check below final.
        List<ZoneRecord> zones;
        await using (var locked = tx.Command($"SELECT {ZoneRecord.Columns} FROM fleet.zones WHERE farm_id = $1 AND NOT is_deleted ORDER BY id FOR UPDATE", farmId))
        {
            zones = await PostgresTransaction.ReadAllAsync(locked, ZoneRecord.Read, cancellationToken).ConfigureAwait(false);
        }

        await BlockingDevices.RefuseIfAnyAsync(tx, "farm_id", farmId, "farm", cancellationToken).ConfigureAwait(false);
        foreach (var zone in zones)
        {
            var archivedZone = zone with { Version = zone.Version + 1, UpdatedAt = now };
            await tx.ExecuteAsync("UPDATE fleet.zones SET is_deleted = true, version = $2, updated_at = $3 WHERE id = $1",
                cancellationToken, zone.Id, archivedZone.Version, now).ConfigureAwait(false);
            await FleetEvents.AppendAsync(messages, tx, FleetEvents.ZoneArchived, archivedZone.ToEvent(), actor.TenantId, zone.Id, cancellationToken).ConfigureAwait(false);
        }

        var archived = farm with { Version = farm.Version + 1, UpdatedAt = now };
        await tx.ExecuteAsync("UPDATE fleet.farms SET is_deleted = true, version = $2, updated_at = $3 WHERE id = $1",
            cancellationToken, farmId, archived.Version, now).ConfigureAwait(false);
        await FleetEvents.AppendAsync(messages, tx, FleetEvents.FarmArchived, archived.ToEvent(), actor.TenantId, farmId, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public static async Task<FarmRecord?> FindAsync(PostgresTransaction tx, Guid farmId, bool locking, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tx);
        await using var command = tx.Command($"SELECT {FarmRecord.Columns} FROM fleet.farms WHERE id = $1 AND NOT is_deleted" + (locking ? " FOR UPDATE" : ""), farmId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? FarmRecord.Read(reader) : null;
    }

    private static ProblemException NameTaken() =>
        FleetDatabase.NameTaken("Your organisation already has a farm with this name (names are compared ignoring case); choose another.");
}
