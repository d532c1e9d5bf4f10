using Canopy.Contracts;
using Canopy.Platform.Data;
using Canopy.Platform.Postgres;
using NpgsqlTypes;

namespace Canopy.Fleet.Features;

/// <summary>The catalogue of sensor models a device can be registered as (the same for every tenant).</summary>
internal sealed class DeviceModels(FleetDatabase database, CursorCodec cursors)
{
    private static readonly string ListFilters = CursorCodec.HashFilters(("list", "device-models"));

    public async Task<DeviceModelPage> ListAsync(Guid tenantId, string? cursor, int limit, CancellationToken cancellationToken)
    {
        var after = cursor is null ? null : cursors.Decode(cursor, ListFilters).After[0];
        var models = await database.ReadOnceAsync(tenantId, """
            SELECT id, manufacturer, name, metrics FROM fleet.device_models
             WHERE $1::text IS NULL OR id > $1
             ORDER BY id LIMIT $2
            """, r => new DeviceModel
        {
            Id = r.GetString(0),
            Manufacturer = r.GetString(1),
            Name = r.GetString(2),
            Metrics = r.GetFieldValue<string[]>(3).Select(WireNames.Parse<Metric>).ToList(),
        }, cancellationToken, PostgresTransaction.Nullable(after, NpgsqlDbType.Text), limit + 1).ConfigureAwait(false);
        var (page, next) = Pages.Cut(models, limit, last => cursors.Encode(new CursorPosition([last.Id]), ListFilters));
        return new DeviceModelPage { Data = page, Has_more = next is not null, Next_cursor = next };
    }

    /// <summary>The metrics a model reports, or null when the catalogue has no such model.</summary>
    public static async Task<string[]?> MetricsOfAsync(PostgresTransaction tx, string modelId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tx);
        await using var command = tx.Command("SELECT metrics FROM fleet.device_models WHERE id = $1", modelId);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string[];
    }
}
