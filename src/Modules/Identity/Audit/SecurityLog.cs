using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Identity.Audit;

/// <summary>A link of a tenant's security-event chain that does not hold.</summary>
internal sealed record BrokenLink(long ChainSeq, string Reason);

/// <summary>
/// The security log: append-only, separate from application logs, one hash chain per tenant.
/// Entries name users by id only (pseudonymous); no e-mail or name is ever written here.
/// </summary>
internal sealed class SecurityLog(TimeProvider time)
{
    public async Task AppendAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Guid? tenantId, string kind,
        Guid? actorId, Guid? subjectId, IPAddress? address, CancellationToken cancellationToken, object? detail = null)
    {
        var now = time.GetUtcNow();
        var content = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (address is not null)
        {
            content["ip"] = address.ToString();
        }

        if (detail is not null)
        {
            content["detail"] = detail;
        }

        await using var command = new NpgsqlCommand("SELECT identity.append_security_event($1, $2, $3, $4, $5, $6, $7)", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = Guid.CreateVersion7(now) });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)tenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter { Value = kind });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)actorId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)subjectId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(content), NpgsqlDbType = NpgsqlDbType.Jsonb });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Recomputes a chain visible to the transaction: each entry's hash over its content and the
    /// previous hash, each link to the previous entry, and no missing sequence number. An edited
    /// row, a deleted row and a reordered row each break it.
    /// </summary>
    public static async Task<IReadOnlyList<BrokenLink>> VerifyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid? tenantId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT e.chain_seq, e.prev_hash, e.hash, identity.security_event_content(e)
            FROM identity.security_events e
            WHERE COALESCE(e.tenant_id, '00000000-0000-0000-0000-000000000000') = COALESCE($1, '00000000-0000-0000-0000-000000000000')
            ORDER BY e.chain_seq
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)tenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        var broken = new List<BrokenLink>();
        byte[] previous = [];
        long expected = 1;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var seq = reader.GetInt64(0);
            var prevHash = (byte[])reader[1];
            var hash = (byte[])reader[2];
            var content = (byte[])reader[3];
            if (seq != expected)
            {
                broken.Add(new BrokenLink(seq, $"entries {expected} to {seq - 1} are missing"));
            }

            if (!prevHash.AsSpan().SequenceEqual(previous))
            {
                broken.Add(new BrokenLink(seq, "does not link to the entry before it"));
            }

            if (!SHA256.HashData([.. prevHash, .. content]).AsSpan().SequenceEqual(hash))
            {
                broken.Add(new BrokenLink(seq, "its content does not match its hash"));
            }

            previous = hash;
            expected = seq + 1;
        }

        return broken;
    }
}
