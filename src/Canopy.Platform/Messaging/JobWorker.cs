using System.Diagnostics;
using System.Text.Json;
using Canopy.Platform.Observability;
using Canopy.Platform.Workers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Platform.Messaging;

/// <summary>
/// Runs the jobs of every defined queue. Jobs are claimed with <c>FOR UPDATE SKIP LOCKED</c>
/// under a lease (<c>locked_until</c>, <c>locked_by</c>) that a heartbeat extends; a job whose
/// worker died is claimed again once its lease expires. A handler runs in a transaction that
/// also marks the job done, guarded by the lease: a worker that lost its lease rolls its effects
/// back, so a job's database effects happen once. Failures retry with exponential backoff and
/// jitter; exhausted or poison jobs become dead letters with their queue's owner.
/// </summary>
public sealed partial class JobWorker(
    NpgsqlDataSource dataSource,
    MessagingRegistry registry,
    WorkSignals signals,
    CanopyMetrics metrics,
    TimeProvider time,
    IOptions<MessagingOptions> options,
    ILogger<JobWorker> logger) : BackgroundService
{
    /// <summary>Identifies this worker's leases; unique per process and start.</summary>
    public string WorkerId { get; } = LeaseOwner.New();

    public TimeSpan PollInterval { get; } = TimeSpan.FromMilliseconds(options.Value.PollMilliseconds);

    private readonly List<Task> _running = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _lastExpirySweep = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(registry.Queues.Select(q => RunQueueAsync(q, stoppingToken)));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        Task[] inFlight;
        lock (_gate)
        {
            inFlight = [.. _running];
        }

        // Jobs already claimed finish (or, if the host's drain time runs out, keep their lease and
        // are retried by another worker when it expires): none is lost.
        await Task.WhenAll(inFlight).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task RunQueueAsync(QueueDefinition queue, CancellationToken stoppingToken)
    {
        using var slots = new SemaphoreSlim(queue.Concurrency, queue.Concurrency);
        using var freed = new SemaphoreSlim(0);
        var inFlight = new List<Task>();
        var backoff = 0;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    // Claim in batches: wait until half the slots are free (or all, when idle), so a
                    // claim round trip serves several jobs instead of one.
                    await WaitForFreeSlotsAsync(slots, freed, Math.Max(1, queue.Concurrency / 2), stoppingToken).ConfigureAwait(false);
                    // A slot runs one job, or one batch of a batching queue.
                    var claimed = await ClaimAsync(queue, slots.CurrentCount * Math.Max(1, queue.BatchSize), stoppingToken).ConfigureAwait(false);
                    foreach (var batch in claimed.Chunk(Math.Max(1, queue.BatchSize)))
                    {
                        // A claimed job always runs: the stopping token must not strand it between claim and run.
                        await slots.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                        var task = (batch.Length == 1 ? RunJobAsync(queue, batch[0]) : RunBatchAsync(queue, batch)).ContinueWith(_ =>
                        {
                            slots.Release();
                            freed.Release();
                        }, TaskScheduler.Default);
                        inFlight.RemoveAll(t => t.IsCompleted);
                        inFlight.Add(task);
                        Track(task);
                    }

                    backoff = 0;
                    if (claimed.Count == 0)
                    {
                        await signals.WaitForJobsAsync(queue.Name, PollInterval, stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    backoff++;
                    metrics.UnhandledException("worker:jobs");
                    LogLoopFailed(logger, queue.Name, ex);
                    await Task.Delay(RetryDelay.Exponential(backoff, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30)), time, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            // Claimed jobs finish before their slots go away (the host's drain time bounds this).
            await Task.WhenAll(inFlight).ConfigureAwait(false);
        }
    }

    private static async Task WaitForFreeSlotsAsync(SemaphoreSlim slots, SemaphoreSlim freed, int wanted, CancellationToken cancellationToken)
    {
        while (slots.CurrentCount < wanted)
        {
            // Woken by each finished job; the timeout only guards against a missed wake-up.
            await freed.WaitAsync(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
        }
    }

    private void Track(Task task)
    {
        lock (_gate)
        {
            _running.RemoveAll(t => t.IsCompleted);
            _running.Add(task);
        }
    }

    private sealed record ClaimedJob(Guid Id, string Type, Guid? TenantId, string Payload, string? IdempotencyKey, int Attempt, int MaxAttempts, string? TraceParent);

    private async Task<List<ClaimedJob>> ClaimAsync(QueueDefinition queue, int capacity, CancellationToken cancellationToken)
    {
        if (capacity <= 0)
        {
            return [];
        }

        var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, cancellationToken, durable: false).ConfigureAwait(false);
        await using (connection)
        await using (transaction)
        {
            // A job whose worker died on its last attempt cannot be retried: it becomes a dead letter.
            // Checked every few seconds, not on every claim.
            var lastSweep = _lastExpirySweep.GetValueOrDefault(queue.Name);
            if (lastSweep == 0 || time.GetElapsedTime(lastSweep) > TimeSpan.FromSeconds(5))
            {
                _lastExpirySweep[queue.Name] = time.GetTimestamp();
                await DeadLetterExpiredAsync(connection, transaction, queue, cancellationToken).ConfigureAwait(false);
            }
            var claimed = new List<ClaimedJob>();
            await using (var claim = new NpgsqlCommand("""
                WITH picked AS (
                    SELECT id FROM platform.jobs
                    WHERE queue = $1 AND attempts < max_attempts
                      AND ((status = 'QUEUED' AND run_at <= now()) OR (status = 'RUNNING' AND locked_until < now()))
                    ORDER BY priority DESC, run_at, id
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED)
                UPDATE platform.jobs j
                   SET status = 'RUNNING', attempts = j.attempts + 1, locked_until = now() + $3, locked_by = $4, updated_at = now()
                  FROM picked WHERE j.id = picked.id
                RETURNING j.id, j.type, j.tenant_id, j.payload::text, j.idempotency_key, j.attempts, j.max_attempts, j.trace_parent
                """, connection, transaction))
            {
                claim.Parameters.Add(new NpgsqlParameter { Value = queue.Name });
                claim.Parameters.Add(new NpgsqlParameter { Value = capacity });
                claim.Parameters.Add(new NpgsqlParameter { Value = queue.Lease });
                claim.Parameters.Add(new NpgsqlParameter { Value = WorkerId });
                await using var reader = await claim.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    claimed.Add(new ClaimedJob(
                        reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetGuid(2), reader.GetString(3),
                        reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt32(5), reader.GetInt32(6), reader.IsDBNull(7) ? null : reader.GetString(7)));
                }
            }

            if (claimed.Count > 0)
            {
                var ids = claimed.Select(c => c.Id).ToArray();
                await Sql.ExecuteAsync(connection, transaction, cancellationToken,
                    Sql.Statement("UPDATE platform.job_attempts SET outcome = 'lease-expired', finished_at = now() WHERE job_id = ANY($1) AND finished_at IS NULL", ids),
                    Sql.Statement("""
                        INSERT INTO platform.job_attempts (job_id, attempt, worker, started_at)
                        SELECT id, attempt, $3, now() FROM unnest($1, $2) AS t(id, attempt)
                        """, ids, claimed.Select(c => c.Attempt).ToArray(), WorkerId)).ConfigureAwait(false);
            }

            // Not cancellable: a claim the server committed must reach the loop that runs it.
            await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
            return claimed;
        }
    }

    private async Task RunJobAsync(QueueDefinition queue, ClaimedJob job)
    {
        using var activity = CanopyActivitySource.Instance.StartActivity($"job {job.Type}", ActivityKind.Consumer, job.TraceParent);
        activity?.SetTag("canopy.job.id", job.Id);
        activity?.SetTag("canopy.job.attempt", job.Attempt);
        var started = Stopwatch.GetTimestamp();
        using var jobCancel = new CancellationTokenSource();
        using var heartbeatStop = new CancellationTokenSource();
        var heartbeat = HeartbeatAsync(queue, job.Id, job.Attempt, jobCancel, heartbeatStop.Token);
        string outcome;
        try
        {
            var handler = registry.Handler(job.Type) ?? throw new PoisonMessageException($"No handler for job type '{job.Type}'.");
            using var payload = JsonDocument.Parse(job.Payload);
            var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, jobCancel.Token, job.TenantId, durable: false).ConfigureAwait(false);
            await using (connection)
            await using (transaction)
            {
                var context = new JobContext(job.Id, queue.Name, job.Type, job.TenantId, payload.RootElement, job.IdempotencyKey, job.Attempt,
                    connection, transaction, (p, ct) => ReportProgressAsync(job.Id, job.Attempt, p, ct));
                await handler.HandleAsync(context, jobCancel.Token).ConfigureAwait(false);
                if (!await CompleteAsync(connection, transaction, job, jobCancel.Token).ConfigureAwait(false))
                {
                    LogLeaseLost(logger, job.Id, queue.Name);
                    await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
                    outcome = "lease_lost";
                    return;
                }

                await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
                outcome = "succeeded";
            }
        }
        catch (OperationCanceledException) when (jobCancel.IsCancellationRequested)
        {
            await FinishAsync(job, "CANCELLED", "cancelled", "Cancelled on request.").ConfigureAwait(false);
            outcome = "cancelled";
        }
        catch (Exception ex)
        {
            outcome = await FailAsync(queue, job, ex).ConfigureAwait(false);
        }
        finally
        {
            await heartbeatStop.CancelAsync().ConfigureAwait(false);
            await heartbeat.ConfigureAwait(false);
        }

        metrics.Job(queue.Name, outcome, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>
    /// Runs a batch in one transaction. Any failure, cancellation or lost lease rolls the whole
    /// batch back, and then each job runs alone on the normal path, which settles its outcome
    /// (success, retry, dead letter) as if the batch had never been tried.
    /// </summary>
    private async Task RunBatchAsync(QueueDefinition queue, ClaimedJob[] jobs)
    {
        var started = Stopwatch.GetTimestamp();
        // Each job keeps its own heartbeat (lease and cancellation) until it has settled: through
        // the batch, and through the wait for its solo run if the batch falls back.
        var cancels = jobs.Select(_ => new CancellationTokenSource()).ToArray();
        var stops = jobs.Select(_ => new CancellationTokenSource()).ToArray();
        var heartbeats = jobs.Select((j, i) => HeartbeatAsync(queue, j.Id, j.Attempt, cancels[i], stops[i].Token)).ToArray();
        try
        {
            using var batchCancel = CancellationTokenSource.CreateLinkedTokenSource(cancels.Select(c => c.Token).ToArray());
            var together = false;
            try
            {
                together = await TryRunTogetherAsync(queue, jobs, batchCancel.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                LogBatchFellBack(logger, queue.Name, jobs.Length, ex);
            }

            if (together)
            {
                var elapsed = Stopwatch.GetElapsedTime(started);
                foreach (var _ in jobs)
                {
                    metrics.Job(queue.Name, "succeeded", elapsed);
                }

                return;
            }

            for (var i = 0; i < jobs.Length; i++)
            {
                await stops[i].CancelAsync().ConfigureAwait(false);
                await heartbeats[i].ConfigureAwait(false);
                if (cancels[i].IsCancellationRequested)
                {
                    // Its cancellation was seen during the batch: honour it rather than run it again.
                    await FinishAsync(jobs[i], "CANCELLED", "cancelled", "Cancelled on request.").ConfigureAwait(false);
                    metrics.Job(queue.Name, "cancelled", Stopwatch.GetElapsedTime(started));
                    continue;
                }

                await RunJobAsync(queue, jobs[i]).ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var stop in stops)
            {
                await stop.CancelAsync().ConfigureAwait(false);
            }

            await Task.WhenAll(heartbeats).ConfigureAwait(false);
            foreach (var source in cancels.Concat(stops))
            {
                source.Dispose();
            }
        }
    }

    private async Task<bool> TryRunTogetherAsync(QueueDefinition queue, ClaimedJob[] jobs, CancellationToken cancellationToken)
    {
        using var activity = CanopyActivitySource.Instance.StartActivity($"jobs {queue.Name} batch", ActivityKind.Consumer);
        activity?.SetTag("canopy.job.batch_size", jobs.Length);
        var ordered = jobs.OrderBy(j => j.TenantId).ToArray();
        var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, cancellationToken, ordered[0].TenantId, durable: false).ConfigureAwait(false);
        await using (connection)
        await using (transaction)
        {
            var tenant = ordered[0].TenantId;
            foreach (var job in ordered)
            {
                if (job.TenantId != tenant)
                {
                    // Module tables key their row-level security on the job's tenant.
                    await using var bind = new NpgsqlCommand("SELECT set_config('app.tenant_id', $1, true)", connection, transaction);
                    bind.Parameters.Add(new NpgsqlParameter { Value = job.TenantId?.ToString() ?? "" });
                    await bind.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                    tenant = job.TenantId;
                }

                var handler = registry.Handler(job.Type) ?? throw new PoisonMessageException($"No handler for job type '{job.Type}'.");
                using var payload = JsonDocument.Parse(job.Payload);
                var context = new JobContext(job.Id, queue.Name, job.Type, job.TenantId, payload.RootElement, job.IdempotencyKey, job.Attempt,
                    connection, transaction, (p, ct) => ReportProgressAsync(job.Id, job.Attempt, p, ct));
                await handler.HandleAsync(context, cancellationToken).ConfigureAwait(false);
            }

            await using var done = new NpgsqlCommand("""
                WITH finished AS (
                    UPDATE platform.jobs j SET status = 'SUCCEEDED', progress = 1, finished_at = now(), updated_at = now(),
                                               locked_until = NULL, last_error = NULL
                      FROM unnest($1::uuid[], $3::int[]) AS t(id, attempt)
                     WHERE j.id = t.id AND j.status = 'RUNNING' AND j.locked_by = $2 AND j.attempts = t.attempt
                    RETURNING j.id, j.attempts)
                UPDATE platform.job_attempts a SET outcome = 'succeeded', finished_at = now()
                  FROM finished f WHERE a.job_id = f.id AND a.attempt = f.attempts
                """, connection, transaction);
            done.Parameters.Add(new NpgsqlParameter { Value = ordered.Select(j => j.Id).ToArray() });
            done.Parameters.Add(new NpgsqlParameter { Value = WorkerId });
            done.Parameters.Add(new NpgsqlParameter { Value = ordered.Select(j => j.Attempt).ToArray() });
            if (await done.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != ordered.Length)
            {
                // One lost its lease: nothing of the batch may commit; each job settles alone.
                await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
                return false;
            }

            await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
            return true;
        }
    }

    private async Task<bool> CompleteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ClaimedJob job, CancellationToken cancellationToken)
    {
        await using var done = new NpgsqlCommand("""
            WITH finished AS (
                UPDATE platform.jobs SET status = 'SUCCEEDED', progress = 1, finished_at = now(), updated_at = now(),
                                         locked_until = NULL, last_error = NULL
                 WHERE id = $1 AND status = 'RUNNING' AND locked_by = $2 AND attempts = $3
                RETURNING id)
            UPDATE platform.job_attempts SET outcome = 'succeeded', finished_at = now()
             WHERE job_id IN (SELECT id FROM finished) AND attempt = $3
            RETURNING job_id
            """, connection, transaction);
        done.Parameters.Add(new NpgsqlParameter { Value = job.Id });
        done.Parameters.Add(new NpgsqlParameter { Value = WorkerId });
        done.Parameters.Add(new NpgsqlParameter { Value = job.Attempt });
        return await done.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }

    private async Task<string> FailAsync(QueueDefinition queue, ClaimedJob job, Exception exception)
    {
        var triage = Failures.Classify(exception);
        var error = DeadLetterStore.Describe(exception);
        var dead = triage != Triage.Transient || job.Attempt >= job.MaxAttempts;
        LogJobFailed(logger, job.Type, job.Id, job.Attempt, job.MaxAttempts, dead, exception);
        var now = time.GetUtcNow();
        var owned = 0;
        var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, CancellationToken.None).ConfigureAwait(false);
        await using (connection)
        await using (transaction)
        {
            await Sql.ExecuteAsync(connection, transaction, CancellationToken.None,
                Sql.Statement("UPDATE platform.job_attempts SET outcome = 'failed', finished_at = now(), error = $3 WHERE job_id = $1 AND attempt = $2",
                    job.Id, job.Attempt, error)).ConfigureAwait(false);
            owned = await Sql.ExecuteAsync(connection, transaction, CancellationToken.None,
                Sql.Statement("""
                    UPDATE platform.jobs
                       SET status = CASE WHEN $3 THEN 'DEAD' ELSE 'QUEUED' END,
                           run_at = CASE WHEN $3 THEN run_at ELSE $4 END,
                           finished_at = CASE WHEN $3 THEN now() ELSE NULL END,
                           locked_until = NULL, locked_by = NULL, last_error = $5, updated_at = now()
                     WHERE id = $1 AND status = 'RUNNING' AND locked_by = $2 AND attempts = $6
                    """, job.Id, WorkerId, dead, now + RetryDelay.Exponential(job.Attempt, queue.FirstRetry, queue.MaxRetry), error, job.Attempt)).ConfigureAwait(false);

            // A run that lost its lease (or was reclaimed) leaves the job to its new owner.
            dead &= owned == 1;
            if (dead)
            {
                await DeadLetterStore.RecordAsync(connection, transaction, "job", job.Id, queue.Name, queue.Owner, job.TenantId, job.Type, job.Payload,
                    job.IdempotencyKey, triage, error, await AttemptsJsonAsync(connection, transaction, job.Id).ConfigureAwait(false), now, CancellationToken.None).ConfigureAwait(false);
            }

            await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return owned == 1 ? (dead ? "dead" : "retry") : "lease_lost";
    }

    private async Task DeadLetterExpiredAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, QueueDefinition queue, CancellationToken cancellationToken)
    {
        var expired = new List<ClaimedJob>();
        await using (var select = new NpgsqlCommand("""
            UPDATE platform.jobs SET status = 'DEAD', finished_at = now(), locked_until = NULL, updated_at = now(),
                                     last_error = 'The worker running the last attempt stopped without finishing it.'
             WHERE id IN (SELECT id FROM platform.jobs WHERE queue = $1 AND status = 'RUNNING' AND locked_until < now()
                                                         AND attempts >= max_attempts FOR UPDATE SKIP LOCKED)
            RETURNING id, type, tenant_id, payload::text, idempotency_key, attempts, max_attempts, trace_parent
            """, connection, transaction))
        {
            select.Parameters.Add(new NpgsqlParameter { Value = queue.Name });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                expired.Add(new ClaimedJob(reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetGuid(2), reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt32(5), reader.GetInt32(6), null));
            }
        }

        foreach (var job in expired)
        {
            await DeadLetterStore.RecordAsync(connection, transaction, "job", job.Id, queue.Name, queue.Owner, job.TenantId, job.Type, job.Payload,
                job.IdempotencyKey, Triage.Transient, "The worker running the last attempt stopped without finishing it.",
                await AttemptsJsonAsync(connection, transaction, job.Id).ConfigureAwait(false), time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<string> AttemptsJsonAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid jobId)
    {
        await using var history = new NpgsqlCommand("""
            SELECT coalesce(jsonb_agg(jsonb_build_object('attempt', attempt, 'worker', worker, 'started_at', started_at,
                                                         'finished_at', finished_at, 'outcome', outcome, 'error', error) ORDER BY attempt), '[]')::text
              FROM platform.job_attempts WHERE job_id = $1
            """, connection, transaction);
        history.Parameters.Add(new NpgsqlParameter { Value = jobId });
        return (string)(await history.ExecuteScalarAsync().ConfigureAwait(false))!;
    }

    private async Task FinishAsync(ClaimedJob job, string status, string outcome, string note)
    {
        var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, CancellationToken.None).ConfigureAwait(false);
        await using (connection)
        await using (transaction)
        {
            await Sql.ExecuteAsync(connection, transaction, CancellationToken.None,
                Sql.Statement("""
                    UPDATE platform.jobs SET status = $3, finished_at = now(), locked_until = NULL, last_error = $4, updated_at = now()
                     WHERE id = $1 AND locked_by = $2 AND status = 'RUNNING' AND attempts = $5
                    """, job.Id, WorkerId, status, note, job.Attempt),
                Sql.Statement("UPDATE platform.job_attempts SET outcome = $3, finished_at = now() WHERE job_id = $1 AND attempt = $2",
                    job.Id, job.Attempt, outcome)).ConfigureAwait(false);
            await transaction.CommitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Extends the lease while the job runs, and cancels it when cancellation is requested.</summary>
    private async Task HeartbeatAsync(QueueDefinition queue, Guid jobId, int attempt, CancellationTokenSource jobCancel, CancellationToken stop)
    {
        var every = queue.Lease / 3;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, time, stop).ConfigureAwait(false);
                var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, stop).ConfigureAwait(false);
                await using (connection)
                await using (transaction)
                {
                    await using var beat = new NpgsqlCommand("""
                        UPDATE platform.jobs SET locked_until = now() + $3 WHERE id = $1 AND locked_by = $2 AND status = 'RUNNING' AND attempts = $4
                        RETURNING cancel_requested
                        """, connection, transaction);
                    beat.Parameters.Add(new NpgsqlParameter { Value = jobId });
                    beat.Parameters.Add(new NpgsqlParameter { Value = WorkerId });
                    beat.Parameters.Add(new NpgsqlParameter { Value = queue.Lease });
                    beat.Parameters.Add(new NpgsqlParameter { Value = attempt });
                    var cancel = await beat.ExecuteScalarAsync(stop).ConfigureAwait(false);
                    await transaction.CommitAsync(stop).ConfigureAwait(false);
                    if (cancel is true)
                    {
                        await jobCancel.CancelAsync().ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (NpgsqlException ex)
            {
                LogHeartbeatFailed(logger, jobId, ex);
            }
        }
    }

    private async Task ReportProgressAsync(Guid jobId, int attempt, double progress, CancellationToken cancellationToken)
    {
        var (connection, transaction) = await Scope.BeginPlatformAsync(dataSource, cancellationToken).ConfigureAwait(false);
        await using (connection)
        await using (transaction)
        {
            await using var update = new NpgsqlCommand(
                "UPDATE platform.jobs SET progress = $3, updated_at = now() WHERE id = $1 AND locked_by = $2 AND status = 'RUNNING' AND attempts = $4", connection, transaction);
            update.Parameters.Add(new NpgsqlParameter { Value = jobId });
            update.Parameters.Add(new NpgsqlParameter { Value = WorkerId });
            update.Parameters.Add(new NpgsqlParameter { Value = (float)Math.Clamp(progress, 0, 1), NpgsqlDbType = NpgsqlDbType.Real });
            update.Parameters.Add(new NpgsqlParameter { Value = attempt });
            await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Job loop of queue {Queue} failed; retrying")]
    private static partial void LogLoopFailed(ILogger logger, string queue, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobType} {JobId} failed on attempt {Attempt} of {MaxAttempts} (dead letter: {Dead})")]
    private static partial void LogJobFailed(ILogger logger, string jobType, Guid jobId, int attempt, int maxAttempts, bool dead, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} of queue {Queue} lost its lease before completing; its effects were rolled back")]
    private static partial void LogLeaseLost(ILogger logger, Guid jobId, string queue);

    [LoggerMessage(Level = LogLevel.Information, Message = "A batch of {Count} jobs of queue {Queue} rolled back; each runs alone")]
    private static partial void LogBatchFellBack(ILogger logger, string queue, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat of job {JobId} failed")]
    private static partial void LogHeartbeatFailed(ILogger logger, Guid jobId, Exception exception);
}
