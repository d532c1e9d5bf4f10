using Canopy.Platform.Postgres;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Platform.Messaging;

/// <summary>A job as its owner may read it.</summary>
public sealed record JobView(
    Guid Id, string Queue, string Type, string Status, double Progress, int Attempts, int MaxAttempts, bool CancelRequested,
    DateTimeOffset RunAt, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt);

/// <summary>A dead letter as an operator reads it (the payload and attempt details stay inside).</summary>
public sealed record DeadLetterView(
    Guid Id, string Source, Guid SourceId, string Queue, string Type, string Owner, string Triage, string Status, int Replays,
    int Attempts, string LastError, bool PlatformWide, DateTimeOffset? NextReplayAt, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>Who is asking: an organisation, and whether they are also a platform operator.</summary>
public sealed record OperatorScope(Guid TenantId, Guid ActorId, bool PlatformOperator);

public enum TriageOutcome
{
    Done,
    NotFound,

    /// <summary>The letter's state does not allow the action (a quarantined letter is not replayed).</summary>
    WrongState,

    /// <summary>The platform's replay budget for this minute is spent.</summary>
    RateLimited,
}

/// <summary>The outcome of a triage action, with the letter as it is afterwards.</summary>
public sealed record TriageResult(TriageOutcome Outcome, DeadLetterView? Letter, int RetryAfterSeconds = 0);

/// <summary>
/// Reading jobs and triaging dead letters on behalf of a caller. An organisation sees its own;
/// a platform operator also the platform's (tenant-less) letters. What is not visible is "not
/// found", never "forbidden". Replays run in platform scope once visibility is established, so
/// the 50-a-minute budget counts every replay of the platform.
/// </summary>
public sealed class MessagingOperations(PostgresDataSources dataSources, Idempotency.IdempotencyClaims idempotency)
{
    private const string LetterColumns = """
        id, source, source_id, queue, type, owner, triage, status, replays, jsonb_array_length(attempts),
        last_error, tenant_id IS NULL, next_replay_at, created_at, updated_at
        """;

    public async Task<JobView?> GetJobAsync(Guid tenantId, Guid jobId, CancellationToken cancellationToken)
    {
        await using var tx = await PostgresTransaction.BeginAsync(dataSources.Primary, tenantId, cancellationToken).ConfigureAwait(false);
        await using var command = tx.Command("""
            SELECT id, queue, type, status, progress, attempts, max_attempts, cancel_requested, run_at, created_at, updated_at, finished_at
            FROM platform.jobs WHERE id = $1 AND tenant_id = $2
            """, jobId, tenantId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new JobView(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetFloat(4), reader.GetInt32(5),
                reader.GetInt32(6), reader.GetBoolean(7), reader.GetFieldValue<DateTimeOffset>(8), reader.GetFieldValue<DateTimeOffset>(9),
                reader.GetFieldValue<DateTimeOffset>(10), reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11))
            : null;
    }

    /// <summary>Newest first; <paramref name="before"/> is the id of the last letter of the previous page.</summary>
    public async Task<IReadOnlyList<DeadLetterView>> ListDeadLettersAsync(OperatorScope scope, string? status, Guid? before, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        await using var tx = await BeginAsync(scope, cancellationToken).ConfigureAwait(false);
        await using var command = tx.Command($"""
            SELECT {LetterColumns} FROM platform.dead_letters
            WHERE (tenant_id = $1 OR ($2 AND tenant_id IS NULL))
              AND ($3::text IS NULL OR status = $3) AND ($4::uuid IS NULL OR id < $4)
            ORDER BY id DESC LIMIT $5
            """, scope.TenantId, scope.PlatformOperator, PostgresTransaction.Nullable(status, NpgsqlDbType.Text), PostgresTransaction.Nullable(before, NpgsqlDbType.Uuid), limit);
        var letters = new List<DeadLetterView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            letters.Add(ReadLetter(reader));
        }

        return letters;
    }

    public Task<TriageResult> ReplayAsync(OperatorScope scope, Guid deadLetterId, CancellationToken cancellationToken) =>
        TriageAsync(scope, deadLetterId, async (tx, ct) =>
        {
            var outcome = await DeadLetters.ReplayAsync(tx.Connection, tx.Transaction, deadLetterId, scope.ActorId, automatic: false, ct).ConfigureAwait(false);
            return outcome switch
            {
                ReplayOutcome.Replayed => (TriageOutcome.Done, 0),
                ReplayOutcome.RateLimited => (TriageOutcome.RateLimited, await SecondsUntilBudgetAsync(tx, ct).ConfigureAwait(false)),
                ReplayOutcome.NotFound => (TriageOutcome.NotFound, 0),
                _ => (TriageOutcome.WrongState, 0),
            };
        }, cancellationToken);

    public Task<TriageResult> QuarantineAsync(OperatorScope scope, Guid deadLetterId, CancellationToken cancellationToken) =>
        TriageAsync(scope, deadLetterId, async (tx, ct) =>
            (await DeadLetters.QuarantineAsync(tx.Connection, tx.Transaction, deadLetterId, ct).ConfigureAwait(false) ? TriageOutcome.Done : TriageOutcome.WrongState, 0),
            cancellationToken);

    private async Task<TriageResult> TriageAsync(
        OperatorScope scope, Guid deadLetterId, Func<PostgresTransaction, CancellationToken, Task<(TriageOutcome Outcome, int RetryAfter)>> action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        await using var tx = await BeginAsync(scope, cancellationToken).ConfigureAwait(false);
        await using (var visible = tx.Command(
            "SELECT 1 FROM platform.dead_letters WHERE id = $1 AND (tenant_id = $2 OR ($3 AND tenant_id IS NULL))", deadLetterId, scope.TenantId, scope.PlatformOperator))
        {
            if (await visible.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
            {
                return new TriageResult(TriageOutcome.NotFound, null);
            }
        }

        // First: a key that already took effect stops here, before the letter is touched.
        await idempotency.ClaimAsync(tx.Connection, tx.Transaction, cancellationToken).ConfigureAwait(false);
        await tx.EnterPlatformScopeAsync(cancellationToken).ConfigureAwait(false);
        var (outcome, retryAfter) = await action(tx, cancellationToken).ConfigureAwait(false);
        var letter = await ReadLetterAsync(tx, deadLetterId, cancellationToken).ConfigureAwait(false);
        if (outcome == TriageOutcome.Done)
        {
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        // Otherwise nothing changed, the key's claim included: the transaction rolls back.
        return new TriageResult(outcome, letter, retryAfter);
    }

    private async Task<PostgresTransaction> BeginAsync(OperatorScope scope, CancellationToken cancellationToken)
    {
        var tx = await PostgresTransaction.BeginAsync(dataSources.Primary, scope.TenantId, cancellationToken).ConfigureAwait(false);
        if (scope.PlatformOperator)
        {
            await tx.EnterPlatformScopeAsync(cancellationToken).ConfigureAwait(false);
        }

        return tx;
    }

    private static async Task<DeadLetterView?> ReadLetterAsync(PostgresTransaction tx, Guid id, CancellationToken cancellationToken)
    {
        await using var command = tx.Command($"SELECT {LetterColumns} FROM platform.dead_letters WHERE id = $1", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadLetter(reader) : null;
    }

    private static async Task<int> SecondsUntilBudgetAsync(PostgresTransaction tx, CancellationToken cancellationToken)
    {
        await using var command = tx.Command($"""
            SELECT greatest(1, ceil(extract(epoch FROM (replayed_at + interval '1 minute' - now()))))::int
            FROM platform.dead_letter_replays WHERE replayed_at > now() - interval '1 minute'
            ORDER BY replayed_at DESC OFFSET {DeadLetters.ReplaysPerMinute - 1} LIMIT 1
            """);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is int seconds ? seconds : 60;
    }

    private static DeadLetterView ReadLetter(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetString(1), reader.GetGuid(2), reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6),
        reader.GetString(7), reader.GetInt32(8), reader.GetInt32(9), WithoutExceptionType(reader.GetString(10)), reader.GetBoolean(11),
        reader.IsDBNull(12) ? null : reader.GetFieldValue<DateTimeOffset>(12), reader.GetFieldValue<DateTimeOffset>(13), reader.GetFieldValue<DateTimeOffset>(14));

    /// <summary>
    /// Stored errors read "ExceptionType: message". Only the failures a module raises on purpose
    /// (a poison payload, a downstream outage) were written for people; anything else may hold
    /// hosts, SQL or constraint names, so callers get a plain description and the trace in the logs.
    /// </summary>
    private static string WithoutExceptionType(string error)
    {
        foreach (var authored in new[] { nameof(PoisonMessageException), nameof(DownstreamUnavailableException) })
        {
            if (error.StartsWith(authored + ": ", StringComparison.Ordinal))
            {
                return error[(authored.Length + 2)..];
            }
        }

        return "The handler failed with an unexpected error; the service's logs hold the details.";
    }
}
