using Canopy.Platform.Messaging;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Messaging;

[Collection("messaging")]
public sealed class JobTests
{
    private readonly string _queue = "q-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Given_a_job_enqueued_in_a_rolled_back_transaction_Then_it_never_exists_and_a_key_enqueues_once()
    {
        var job = new ScriptedJob("test.record");
        await using var host = await StartAsync(job);

        var lost = await host.InTransactionAsync((c, t) => host.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "test.record", new { }), CancellationToken.None), commit: false);
        var first = await host.InTransactionAsync((c, t) => host.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "test.record", new { }, IdempotencyKey: "k1"), CancellationToken.None));
        var second = await host.InTransactionAsync((c, t) => host.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "test.record", new { }, IdempotencyKey: "k1"), CancellationToken.None));

        Assert.Equal(first, second);
        await host.WaitUntilAsync(async () => await Status(host, first) == "SUCCEEDED", "the job succeeds");
        Assert.Equal(0, await host.CountAsync("SELECT count(*) FROM platform.jobs WHERE id = $1", lost));
        Assert.Equal(1, await host.CountAsync("SELECT count(*) FROM kernel_tests.job_effects WHERE job_id = $1", first));
        Assert.Equal(1.0f, await host.ScalarAsync<float>("SELECT progress FROM platform.jobs WHERE id = $1", first));
    }

    [Fact]
    public async Task Given_a_handler_that_always_throws_Then_attempts_back_off_and_end_in_a_dead_letter_with_its_owner()
    {
        var job = new ScriptedJob("test.fail", _ => new InvalidOperationException("the downstream said no; password=hunter2"));
        await using var host = await StartAsync(job, maxAttempts: 3);

        var id = await host.InTransactionAsync((c, t) => host.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "test.fail", new { n = 1 }, IdempotencyKey: "original-key"), CancellationToken.None));

        await host.WaitUntilAsync(async () => await Status(host, id) == "DEAD", "the job is dead");
        Assert.Equal(3, job.Runs);
        var gaps = await host.ScalarAsync<double[]>("""
            SELECT array_agg(extract(epoch FROM started_at - lag)::float8 ORDER BY attempt) FROM (
              SELECT attempt, started_at, lag(finished_at) OVER (ORDER BY attempt) AS lag FROM platform.job_attempts WHERE job_id = $1) a
             WHERE lag IS NOT NULL
            """, id);
        Assert.Equal(2, gaps.Length);
        Assert.True(gaps[1] > gaps[0], $"backoff did not grow: {string.Join(", ", gaps)}");
        Assert.Equal(1, await host.CountAsync("""
            SELECT count(*) FROM platform.dead_letters
             WHERE source = 'job' AND source_id = $1 AND owner = 'messaging-tests' AND triage = 'transient' AND status = 'OPEN'
               AND idempotency_key = 'original-key' AND jsonb_array_length(attempts) = 3 AND last_error NOT LIKE '%hunter2%'
            """, id));
    }

    [Fact]
    public async Task Given_a_dead_job_replayed_after_its_cause_is_fixed_Then_it_runs_again_once_with_its_original_key()
    {
        var broken = true;
        var job = new ScriptedJob("test.heal", _ => broken ? new InvalidOperationException("not yet") : null);
        await using var host = await StartAsync(job, maxAttempts: 2);
        var id = await host.InTransactionAsync((c, t) => host.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "test.heal", new { }, IdempotencyKey: "heal-1"), CancellationToken.None));
        await host.WaitUntilAsync(async () => await Status(host, id) == "DEAD", "the job is dead");

        broken = false;
        var letter = await LetterId(host, id);
        Assert.Equal(ReplayOutcome.Replayed, await host.InTransactionAsync((c, t) => DeadLetters.ReplayAsync(c, t, letter, null, automatic: false, CancellationToken.None)));

        await host.WaitUntilAsync(async () => await Status(host, id) == "SUCCEEDED", "the replayed job succeeds");
        Assert.Equal(1, await host.CountAsync("SELECT count(*) FROM kernel_tests.job_effects WHERE job_id = $1", id));
        Assert.Equal("REPLAYED", await host.ScalarAsync<string>("SELECT status FROM platform.dead_letters WHERE id = $1", letter));
        Assert.Equal(id, await host.InTransactionAsync((c, t) => host.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "test.heal", new { }, IdempotencyKey: "heal-1"), CancellationToken.None)));
    }

    [Fact]
    public async Task Given_a_poison_job_Then_it_is_quarantined_after_one_attempt()
    {
        var job = new ScriptedJob("test.poison");
        await using var host = await StartAsync(job);

        var id = await host.InTransactionAsync((c, t) => host.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "test.poison", new { strict = "not a number" }), CancellationToken.None));

        await host.WaitUntilAsync(async () => await Status(host, id) == "DEAD", "the job is dead");
        Assert.Equal(1, job.Runs);
        Assert.Equal("QUARANTINED", await host.ScalarAsync<string>("SELECT status FROM platform.dead_letters WHERE source_id = $1", id));
        Assert.Equal(ReplayOutcome.NotReplayable, await host.InTransactionAsync((c, t) =>
            DeadLetters.ReplayAsync(c, t, LetterId(host, id).Result, null, automatic: false, CancellationToken.None)));
    }

    [Fact]
    public async Task Given_a_running_job_Then_its_progress_is_readable_and_a_cancellation_stops_it()
    {
        var job = new ScriptedJob("test.slow");
        await using var host = await StartAsync(job, lease: TimeSpan.FromSeconds(1.5));

        var id = await host.InTransactionAsync((c, t) => host.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "test.slow", new { pause_ms = 20_000 }), CancellationToken.None));
        await host.WaitUntilAsync(async () => await host.ScalarAsync<float>("SELECT progress FROM platform.jobs WHERE id = $1", id) == 0.5f, "progress is 0.5");
        Assert.Equal("RUNNING", await Status(host, id));
        await host.CountAsync("WITH u AS (UPDATE platform.jobs SET cancel_requested = true WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", id);

        await host.WaitUntilAsync(async () => await Status(host, id) == "CANCELLED", "the job is cancelled", seconds: 10);
        Assert.Equal(0, await host.CountAsync("SELECT count(*) FROM kernel_tests.job_effects WHERE job_id = $1", id));
    }

    [Fact]
    public async Task Given_a_batching_queue_and_two_workers_Then_every_job_runs_and_takes_effect_exactly_once()
    {
        var job = new ScriptedJob("test.batch");
        await using var first = await StartAsync(job, batchSize: 16);
        await using var second = await StartAsync(job, batchSize: 16);
        const int count = 600;

        await first.InTransactionAsync(async (c, t) =>
        {
            for (var i = 0; i < count; i++)
            {
                await first.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "test.batch", new { i }), CancellationToken.None);
            }

            return 0;
        });

        await first.WaitUntilAsync(async () => await first.CountAsync("SELECT count(*) FROM platform.jobs WHERE queue = $1 AND status = 'SUCCEEDED'", _queue) == count, "every job succeeds", 60);
        Assert.Equal(count, await first.CountAsync("SELECT count(DISTINCT e.job_id) FROM kernel_tests.job_effects e JOIN platform.jobs j ON j.id = e.job_id WHERE j.queue = $1", _queue));
        Assert.Equal(count, await first.CountAsync("SELECT count(*) FROM kernel_tests.job_effects e JOIN platform.jobs j ON j.id = e.job_id WHERE j.queue = $1", _queue));
        Assert.Equal(count, await first.CountAsync("SELECT count(*) FROM platform.job_attempts a JOIN platform.jobs j ON j.id = a.job_id WHERE j.queue = $1 AND a.outcome = 'succeeded'", _queue));
    }

    [Fact]
    public async Task Given_one_failing_job_in_a_batch_Then_the_others_take_effect_once_and_it_alone_ends_as_a_dead_letter()
    {
        var job = new ScriptedJob("test.batch", j => j.Payload.TryGetProperty("fail", out _) ? new InvalidOperationException("this one is broken") : null);
        await using var host = await StartAsync(job, maxAttempts: 2, batchSize: 16);
        var ids = await host.InTransactionAsync(async (c, t) =>
        {
            var enqueued = new List<Guid>();
            for (var i = 0; i < 12; i++)
            {
                object payload = i == 5 ? new { i, fail = true } : new { i };
                enqueued.Add(await host.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "test.batch", payload), CancellationToken.None));
            }

            return enqueued;
        });

        await host.WaitUntilAsync(async () => await Status(host, ids[5]) == "DEAD", "the broken job is dead");
        await host.WaitUntilAsync(async () => await host.CountAsync("SELECT count(*) FROM platform.jobs WHERE queue = $1 AND status = 'SUCCEEDED'", _queue) == 11, "the others succeed");
        Assert.Equal(11, await host.CountAsync("SELECT count(*) FROM kernel_tests.job_effects e JOIN platform.jobs j ON j.id = e.job_id WHERE j.queue = $1", _queue));
        Assert.Equal(0, await host.CountAsync("SELECT count(*) FROM kernel_tests.job_effects WHERE job_id = $1", ids[5]));
        Assert.Equal(1, await host.CountAsync("SELECT count(*) FROM platform.dead_letters WHERE source_id = $1 AND owner = 'messaging-tests'", ids[5]));
    }

    [Fact]
    public async Task Given_a_queue_without_an_owner_Then_the_host_refuses_to_start()
    {
        var error = await Assert.ThrowsAnyAsync<InvalidOperationException>(() => MessagingHost.StartAsync(s =>
            s.AddSingleton(new QueueDefinition("orphan", Owner: ""))));

        Assert.Contains("queue 'orphan' has no owner", error.Message, StringComparison.Ordinal);
    }

    private Task<MessagingHost> StartAsync(ScriptedJob job, int maxAttempts = 3, TimeSpan? lease = null, int batchSize = 1) =>
        MessagingHost.StartAsync(s =>
        {
            s.AddSingleton(new QueueDefinition(_queue, "messaging-tests", Concurrency: 2, MaxAttempts: maxAttempts)
            {
                FirstRetry = TimeSpan.FromMilliseconds(300),
                Lease = lease ?? TimeSpan.FromSeconds(30),
                BatchSize = batchSize,
            });
            s.AddSingleton<IJobHandler>(job);
        });

    private static Task<string> Status(MessagingHost host, Guid id) => host.ScalarAsync<string>("SELECT status FROM platform.jobs WHERE id = $1", id);

    private static Task<Guid> LetterId(MessagingHost host, Guid jobId) => host.ScalarAsync<Guid>("SELECT id FROM platform.dead_letters WHERE source_id = $1", jobId);
}
