using Canopy.Platform.Observability;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Platform.Messaging;

/// <summary>Writes dead letters: one per failed job or (event, subscriber), revived when a replay dies again.</summary>
internal static class DeadLetterStore
{
    public static async Task RecordAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction,
        string source, Guid sourceId, string queue, string owner, Guid? tenantId, string type, string payloadJson,
        string? idempotencyKey, Triage triage, string error, string attemptsJson, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var status = triage switch
        {
            Triage.Poison => "QUARANTINED",
            Triage.DownstreamOutage => "HELD",
            _ => "OPEN",
        };
        await using var command = new NpgsqlCommand("""
            INSERT INTO platform.dead_letters (id, source, source_id, queue, owner, tenant_id, type, payload, idempotency_key,
                                               triage, status, last_error, attempts, next_replay_at, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
            ON CONFLICT (source, source_id) DO UPDATE
               SET triage = EXCLUDED.triage, status = EXCLUDED.status, last_error = EXCLUDED.last_error,
                   attempts = platform.dead_letters.attempts || EXCLUDED.attempts,
                   next_replay_at = EXCLUDED.next_replay_at, updated_at = EXCLUDED.updated_at,
                   version = platform.dead_letters.version + 1
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = Guid.CreateVersion7(now) });
        command.Parameters.Add(new NpgsqlParameter { Value = source });
        command.Parameters.Add(new NpgsqlParameter { Value = sourceId });
        command.Parameters.Add(new NpgsqlParameter { Value = queue });
        command.Parameters.Add(new NpgsqlParameter { Value = owner });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)tenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter { Value = type });
        command.Parameters.Add(new NpgsqlParameter { Value = payloadJson, NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)idempotencyKey ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = Failures.Text(triage) });
        command.Parameters.Add(new NpgsqlParameter { Value = status });
        command.Parameters.Add(new NpgsqlParameter { Value = error });
        command.Parameters.Add(new NpgsqlParameter { Value = attemptsJson, NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = triage == Triage.Transient ? now.AddMinutes(1) : DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>What an error says, without secrets, short enough to store.</summary>
    public static string Describe(Exception exception)
    {
        var text = LogRedaction.Scrub($"{exception.GetType().Name}: {exception.Message}");
        return text.Length <= 2000 ? text : text[..2000];
    }
}
