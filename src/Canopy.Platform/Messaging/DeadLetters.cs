using Npgsql;

namespace Canopy.Platform.Messaging;

public enum ReplayOutcome
{
    Replayed,
    NotFound,
    NotReplayable,
    RateLimited,
}

/// <summary>
/// Triage actions on dead letters. A replay puts the original job (same id, payload and
/// idempotency key) or event delivery back in line; at most 50 replays a minute platform-wide,
/// automatic and manual together; quarantined letters are never replayed.
/// </summary>
public static class DeadLetters
{
    public const int ReplaysPerMinute = 50;

    /// <summary>The advisory lock that serialises replays; take it before locking letter rows.</summary>
    public const long ReplayLock = 7330221901455002;
    public const int MaxAutomaticReplays = 3;

    /// <summary>Replays one dead letter in the caller's transaction (platform scope, or the letter's tenant).</summary>
    public static async Task<ReplayOutcome> ReplayAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid deadLetterId, Guid? actor, bool automatic, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        // Serialises replays so the per-minute budget holds across instances.
        await using (var budgetLock = new NpgsqlCommand("SELECT pg_advisory_xact_lock(7330221901455002) -- ReplayLock", connection, transaction))
        {
            await budgetLock.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        string source;
        Guid sourceId;
        string queue;
        await using (var letter = new NpgsqlCommand("SELECT source, source_id, queue, status, replays FROM platform.dead_letters WHERE id = $1 FOR UPDATE", connection, transaction))
        {
            letter.Parameters.Add(new NpgsqlParameter { Value = deadLetterId });
            await using var reader = await letter.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return ReplayOutcome.NotFound;
            }

            var status = reader.GetString(3);
            if (status is "QUARANTINED" or "REPLAYED" || (automatic && reader.GetInt32(4) >= MaxAutomaticReplays))
            {
                return ReplayOutcome.NotReplayable;
            }

            (source, sourceId, queue) = (reader.GetString(0), reader.GetGuid(1), reader.GetString(2));
        }

        // The budget is checked last, so a letter that could never be replayed says so.
        await using (var budget = new NpgsqlCommand("SELECT count(*) FROM platform.dead_letter_replays WHERE replayed_at > now() - interval '1 minute'", connection, transaction))
        {
            if ((long)(await budget.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! >= ReplaysPerMinute)
            {
                return ReplayOutcome.RateLimited;
            }
        }

        var requeue = source == "job"
            ? """
              WITH requeued AS (
                  UPDATE platform.jobs SET status = 'QUEUED', attempts = 0, run_at = now(), finished_at = NULL, locked_until = NULL,
                                           locked_by = NULL, last_error = NULL, progress = 0, cancel_requested = false, updated_at = now()
                   WHERE id = $1 AND status = 'DEAD'
                  RETURNING id),
              -- The history moved into the letter's attempts; the job counts its attempts afresh.
              forgotten AS (DELETE FROM platform.job_attempts WHERE job_id IN (SELECT id FROM requeued))
              SELECT count(*) FROM requeued
              """
            : """
              UPDATE platform.outbox_deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = now(), locked_until = NULL, last_error = NULL
               WHERE subscriber = $2 AND status = 'DEAD' AND platform.outbox_delivery_id(event_id, subscriber) = $1
              """;
        await using (var command = new NpgsqlCommand(requeue, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = sourceId });
            if (source != "job")
            {
                command.Parameters.Add(new NpgsqlParameter { Value = queue["events:".Length..] });
            }

            var requeued = source == "job"
                ? (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!
                : await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            if (requeued == 0)
            {
                return ReplayOutcome.NotReplayable;
            }
        }

        await Sql.ExecuteAsync(connection, transaction, cancellationToken,
            Sql.Statement("""
                UPDATE platform.dead_letters
                   SET status = 'REPLAYED', replays = least(replays + 1, 3), updated_at = now(), version = version + 1,
                       next_replay_at = now() + interval '1 minute' * power(2, replays + 1)
                 WHERE id = $1
                """, deadLetterId),
            Sql.Statement("INSERT INTO platform.dead_letter_replays (dead_letter_id, replayed_at, by_actor, automatic) VALUES ($1, now(), $2, $3)",
                deadLetterId, new NpgsqlParameter { Value = (object?)actor ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid }, automatic)).ConfigureAwait(false);
        return ReplayOutcome.Replayed;
    }

    /// <summary>Takes a letter out of automatic replay (its job or delivery is no longer dead).</summary>
    public static async Task ParkAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid deadLetterId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("UPDATE platform.dead_letters SET next_replay_at = NULL, updated_at = now() WHERE id = $1", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = deadLetterId });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Quarantines a letter: it is never replayed automatically, and only deliberately afterwards.</summary>
    public static async Task<bool> QuarantineAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid deadLetterId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            UPDATE platform.dead_letters SET status = 'QUARANTINED', next_replay_at = NULL, updated_at = now(), version = version + 1
             WHERE id = $1 AND status IN ('OPEN', 'HELD')
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = deadLetterId });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }
}
