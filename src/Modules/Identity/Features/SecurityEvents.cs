using Canopy.Contracts;
using Canopy.Identity.Security;
using Canopy.Platform.Data;
using Npgsql;
using NpgsqlTypes;
using Canopy.Platform.Postgres;

namespace Canopy.Identity.Features;

/// <summary>The organisation's security log, newest first.</summary>
internal sealed class SecurityEvents(IdentityDatabase database, CursorCodec cursors)
{
    private static readonly string ListFilters = CursorCodec.HashFilters(("list", "security-events"));

    public async Task<SecurityEventPage> ListAsync(AccessTokenSubject caller, string? cursor, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var before = cursor is null ? (long?)null : long.Parse(cursors.Decode(cursor, ListFilters).After[0], System.Globalization.CultureInfo.InvariantCulture);
        await using var tx = await database.BeginAsync(caller.TenantId, cancellationToken).ConfigureAwait(false);
        await using var command = tx.Command("""
            SELECT id, kind, occurred_at, actor_id, subject_id, seq FROM identity.security_events
            WHERE tenant_id = $1 AND ($2::bigint IS NULL OR seq < $2)
            ORDER BY seq DESC LIMIT $3
            """, caller.TenantId, PostgresTransaction.Nullable(before, NpgsqlDbType.Bigint), limit + 1);
        var rows = new List<(SecurityEvent Event, long Seq)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add((Read(reader), reader.GetInt64(5)));
            }
        }

        var hasMore = rows.Count > limit;
        var page = rows.Take(limit).ToList();
        return new SecurityEventPage
        {
            Data = page.Select(r => r.Event).ToList(),
            Has_more = hasMore,
            Next_cursor = hasMore ? cursors.Encode(new CursorPosition([page[^1].Seq.ToString(System.Globalization.CultureInfo.InvariantCulture)]), ListFilters) : null,
        };
    }

    public static SecurityEvent Read(NpgsqlDataReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new SecurityEvent
        {
            Id = reader.GetGuid(0),
            Kind = Enum.Parse<SecurityEventKind>(reader.GetString(1), ignoreCase: true),
            Occurred_at = reader.GetFieldValue<DateTimeOffset>(2),
            Actor_id = reader.IsDBNull(3) ? null : reader.GetGuid(3),
            Subject_id = reader.IsDBNull(4) ? null : reader.GetGuid(4),
        };
    }
}
