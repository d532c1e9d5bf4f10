using Canopy.Platform.Messaging;
using Npgsql;

namespace Canopy.Api.Tests.Messaging;

[Collection("messaging")]
public sealed class DeadLetterReplayTests
{
    [Fact]
    public async Task Given_more_replays_than_the_minute_allows_Then_only_the_budget_is_replayed_keeping_the_original_key()
    {
        await using var host = await MessagingHost.StartAsync(_ => { });
        var queue = "replay-" + Guid.NewGuid().ToString("N")[..8];
        var letters = new List<Guid>();
        for (var i = 0; i < DeadLetters.ReplaysPerMinute + 5; i++)
        {
            letters.Add(await DeadJobAsync(host, queue, $"key-{i}"));
        }

        var used = await host.CountAsync("SELECT count(*) FROM platform.dead_letter_replays WHERE replayed_at > now() - interval '1 minute'");
        var outcomes = new List<ReplayOutcome>();
        foreach (var letter in letters)
        {
            outcomes.Add(await host.InTransactionAsync((c, t) => DeadLetters.ReplayAsync(c, t, letter, null, automatic: false, CancellationToken.None)));
        }

        var allowed = (int)Math.Max(0, DeadLetters.ReplaysPerMinute - used);
        var replayed = outcomes.Count(o => o == ReplayOutcome.Replayed);
        var limited = outcomes.Count(o => o == ReplayOutcome.RateLimited);
        var replayedJob = await host.ScalarAsync<Guid>("SELECT source_id FROM platform.dead_letters WHERE id = $1", letters[0]);
        var firstStatus = await host.ScalarAsync<string>("SELECT status FROM platform.jobs WHERE id = $1", replayedJob);
        var firstKey = await host.ScalarAsync<string>("SELECT idempotency_key FROM platform.jobs WHERE id = $1", replayedJob);

        // Give the budget back (the replays go with their letters), so other tests are not limited by this one.
        await host.CountAsync("WITH gone AS (DELETE FROM platform.dead_letters WHERE queue = $1 RETURNING 1) SELECT count(*) FROM gone", queue);

        Assert.Equal(allowed, replayed);
        Assert.Equal(letters.Count - allowed, limited);
        if (allowed > 0)
        {
            Assert.Equal("QUEUED", firstStatus);
            Assert.Equal("key-0", firstKey);
        }
    }

    [Fact]
    public async Task Given_a_quarantined_or_thrice_replayed_letter_Then_it_is_not_replayed_automatically()
    {
        await using var host = await MessagingHost.StartAsync(_ => { });
        var queue = "replay-" + Guid.NewGuid().ToString("N")[..8];
        var quarantined = await DeadJobAsync(host, queue, "q");
        var exhausted = await DeadJobAsync(host, queue, "x");

        Assert.True(await host.InTransactionAsync((c, t) => DeadLetters.QuarantineAsync(c, t, quarantined, CancellationToken.None)));
        await host.CountAsync("WITH u AS (UPDATE platform.dead_letters SET replays = 3 WHERE id = $1 RETURNING 1) SELECT count(*) FROM u", exhausted);

        Assert.Equal(ReplayOutcome.NotReplayable, await host.InTransactionAsync((c, t) => DeadLetters.ReplayAsync(c, t, quarantined, null, automatic: true, CancellationToken.None)));
        Assert.Equal(ReplayOutcome.NotReplayable, await host.InTransactionAsync((c, t) => DeadLetters.ReplayAsync(c, t, quarantined, null, automatic: false, CancellationToken.None)));
        Assert.Equal(ReplayOutcome.NotReplayable, await host.InTransactionAsync((c, t) => DeadLetters.ReplayAsync(c, t, exhausted, null, automatic: true, CancellationToken.None)));
        Assert.Equal(ReplayOutcome.NotFound, await host.InTransactionAsync((c, t) => DeadLetters.ReplayAsync(c, t, Guid.CreateVersion7(), null, automatic: false, CancellationToken.None)));
    }

    [Fact]
    public async Task Given_processed_rows_older_than_retention_Then_they_are_purged_and_pending_or_dead_ones_stay()
    {
        await using var host = await MessagingHost.StartAsync(_ => { });
        var queue = "retention-" + Guid.NewGuid().ToString("N")[..8];
        var old = await host.InTransactionAsync(async (c, t) =>
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO platform.jobs (id, queue, type, payload, status, run_at, max_attempts, created_at, updated_at, finished_at)
                VALUES (gen_random_uuid(), $1, 't', '{}', 'SUCCEEDED', now(), 1, now() - interval '10 days', now(), now() - interval '9 days'),
                       (gen_random_uuid(), $1, 't', '{}', 'SUCCEEDED', now(), 1, now(), now(), now()),
                       (gen_random_uuid(), $1, 't', '{}', 'QUEUED', now(), 1, now() - interval '10 days', now(), NULL),
                       (gen_random_uuid(), $1, 't', '{}', 'SUCCEEDED', now(), 1, now() - interval '10 days', now(), now() - interval '8 days')
                """, c, t);
            insert.Parameters.Add(new NpgsqlParameter { Value = queue });
            return await insert.ExecuteNonQueryAsync();
        });
        Assert.Equal(4, old);
        var dead = await DeadJobAsync(host, queue, "dead");

        await RetentionWorker.PurgeAsync(host.DataSource, TimeSpan.FromDays(7), CancellationToken.None);

        Assert.Equal(3, await host.CountAsync("SELECT count(*) FROM platform.jobs WHERE queue = $1", queue));
        Assert.Equal(0, await host.CountAsync("SELECT count(*) FROM platform.jobs WHERE queue = $1 AND finished_at < now() - interval '7 days'", queue));
        Assert.Equal(1, await host.CountAsync("SELECT count(*) FROM platform.dead_letters WHERE id = $1", dead));
    }

    private static async Task<Guid> DeadJobAsync(MessagingHost host, string queue, string key) =>
        await host.InTransactionAsync(async (c, t) =>
        {
            var jobId = Guid.CreateVersion7();
            var letter = Guid.CreateVersion7();
            await using var insert = new NpgsqlCommand("""
                WITH job AS (
                    INSERT INTO platform.jobs (id, queue, type, payload, idempotency_key, status, run_at, attempts, max_attempts, created_at, updated_at, finished_at)
                    VALUES ($1, $2, 'test.replay', '{}', $3, 'DEAD', now(), 3, 3, now(), now(), now())
                    RETURNING id)
                INSERT INTO platform.dead_letters (id, source, source_id, queue, owner, type, payload, idempotency_key, triage, last_error, attempts, created_at, updated_at, next_replay_at)
                SELECT $4, 'job', id, $2, 'messaging-tests', 'test.replay', '{}', $3, 'transient', 'boom', '[]', now(), now(), now() + interval '1 hour' FROM job
                """, c, t);
            insert.Parameters.Add(new NpgsqlParameter { Value = jobId });
            insert.Parameters.Add(new NpgsqlParameter { Value = queue });
            insert.Parameters.Add(new NpgsqlParameter { Value = key });
            insert.Parameters.Add(new NpgsqlParameter { Value = letter });
            await insert.ExecuteNonQueryAsync();
            return letter;
        });
}
