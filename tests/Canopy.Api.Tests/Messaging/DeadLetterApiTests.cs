using System.Net;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Platform.Messaging;

namespace Canopy.Api.Tests.Messaging;

// In the messaging collection: replays share one platform-wide budget with the other replay tests.
[Collection("messaging")]
public sealed class DeadLetterApiTests : IClassFixture<IdentityHost>
{
    private readonly IdentityHost _host;
    private readonly IdentityApi _api;

    public DeadLetterApiTests(IdentityHost host)
    {
        _host = host;
        _api = new IdentityApi(host.Factory.CreateClient());
    }

    [Fact]
    public async Task Given_letters_of_two_organisations_and_of_the_platform_Then_an_admin_lists_only_their_own()
    {
        var (a, tokensA) = await AdminAsync();
        var (b, _) = await AdminAsync();
        var mine = await DeadJobAsync(a.TenantId);
        var theirs = await DeadJobAsync(b.TenantId);
        var platform = await DeadJobAsync(null);

        using var response = await _api.GetAsync("/api/v1/dead-letters", tokensA.Access);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var ids = (await IdentityApi.Json(response)).GetProperty("data").EnumerateArray().Select(l => l.GetProperty("id").GetGuid()).ToList();
        Assert.Equal([mine.Letter], ids);
        Assert.DoesNotContain(theirs.Letter, ids);
        Assert.DoesNotContain(platform.Letter, ids);
    }

    [Fact]
    public async Task Given_a_platform_operator_named_in_configuration_Then_platform_letters_are_listed_and_replayable_too()
    {
        var (admin, _) = await AdminAsync();
        var platform = await DeadJobAsync(null);
        await using var operatorHost = new CanopyApiFactory(new Dictionary<string, string?> { ["Platform:Operators:0"] = admin.UserId.ToString() });
        var operatorApi = new IdentityApi(operatorHost.CreateClient());
        var tokens = await operatorApi.TokensAsync(admin.Email);

        using var list = await operatorApi.GetAsync("/api/v1/dead-letters?status=HELD&limit=200", tokens.Access);
        using var replay = await operatorApi.PostAsync($"/api/v1/dead-letters/{platform.Letter}/replay", null, tokens.Access, Guid.NewGuid().ToString());
        using var notOperator = await _api.PostAsync($"/api/v1/dead-letters/{platform.Letter}/quarantine", null, tokens.Access);

        Assert.Contains((await IdentityApi.Json(list)).GetProperty("data").EnumerateArray(), l => l.GetProperty("id").GetGuid() == platform.Letter && l.GetProperty("platform_wide").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        await ProblemAssert.IsProblemAsync(notOperator, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Given_a_dead_job_Then_replay_queues_the_same_job_with_its_original_idempotency_key()
    {
        var (admin, tokens) = await AdminAsync();
        var dead = await DeadJobAsync(admin.TenantId);

        using var response = await _api.PostAsync($"/api/v1/dead-letters/{dead.Letter}/replay", null, tokens.Access, Guid.NewGuid().ToString());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await IdentityApi.Json(response);
        Assert.Equal("REPLAYED", body.GetProperty("status").GetString());
        Assert.Equal(1, body.GetProperty("replays").GetInt32());
        Assert.Equal("The receiver answered 503 six times.", body.GetProperty("last_error").GetString());
        Assert.Equal("QUEUED", await IdentityApi.ScalarAsync<string>("SELECT status FROM platform.jobs WHERE id = $1", dead.Job));
        Assert.Equal(dead.Key, await IdentityApi.ScalarAsync<string>("SELECT idempotency_key FROM platform.jobs WHERE id = $1", dead.Job));
        Assert.Equal(admin.UserId, await IdentityApi.ScalarAsync<Guid>("SELECT by_actor FROM platform.dead_letter_replays WHERE dead_letter_id = $1", dead.Letter));
    }

    [Fact]
    public async Task Given_a_letter_that_died_of_an_internal_error_Then_its_error_text_stays_inside()
    {
        var (admin, tokens) = await AdminAsync();
        var dead = await DeadJobAsync(admin.TenantId);
        await IdentityApi.ExecuteAsOwnerAsync(
            "UPDATE platform.dead_letters SET last_error = 'NpgsqlException: Failed to connect to 10.2.3.4:5432 (relation secret_table)' WHERE id = $1", dead.Letter);

        using var response = await _api.GetAsync("/api/v1/dead-letters", tokens.Access);

        var letter = (await IdentityApi.Json(response)).GetProperty("data")[0];
        Assert.DoesNotContain("10.2.3.4", letter.GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("secret_table", letter.GetProperty("last_error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_quarantined_letter_Then_replay_is_409_naming_its_state_and_the_job_stays_dead()
    {
        var (admin, tokens) = await AdminAsync();
        var dead = await DeadJobAsync(admin.TenantId);

        using var quarantined = await _api.PostAsync($"/api/v1/dead-letters/{dead.Letter}/quarantine", null, tokens.Access);
        using var replay = await _api.PostAsync($"/api/v1/dead-letters/{dead.Letter}/replay", null, tokens.Access, Guid.NewGuid().ToString());
        using var again = await _api.PostAsync($"/api/v1/dead-letters/{dead.Letter}/quarantine", null, tokens.Access);

        Assert.Equal("QUARANTINED", (await IdentityApi.Json(quarantined)).GetProperty("status").GetString());
        var problem = await ProblemAssert.IsProblemAsync(replay, HttpStatusCode.Conflict, "conflict");
        Assert.Equal("QUARANTINED", problem.GetProperty("current_state").GetString());
        await ProblemAssert.IsProblemAsync(again, HttpStatusCode.Conflict, "conflict");
        Assert.Equal("DEAD", await IdentityApi.ScalarAsync<string>("SELECT status FROM platform.jobs WHERE id = $1", dead.Job));
    }

    [Fact]
    public async Task Given_another_organisations_letter_Then_replay_and_quarantine_are_404_and_change_nothing()
    {
        var (_, tokens) = await AdminAsync();
        var (other, _) = await AdminAsync();
        var dead = await DeadJobAsync(other.TenantId);

        using var replay = await _api.PostAsync($"/api/v1/dead-letters/{dead.Letter}/replay", null, tokens.Access, Guid.NewGuid().ToString());
        using var quarantine = await _api.PostAsync($"/api/v1/dead-letters/{dead.Letter}/quarantine", null, tokens.Access);

        await ProblemAssert.IsProblemAsync(replay, HttpStatusCode.NotFound, "not-found");
        await ProblemAssert.IsProblemAsync(quarantine, HttpStatusCode.NotFound, "not-found");
        Assert.Equal("HELD", await IdentityApi.ScalarAsync<string>("SELECT status FROM platform.dead_letters WHERE id = $1", dead.Letter));
    }

    [Fact]
    public async Task Given_two_replays_of_one_letter_at_the_same_moment_Then_one_replays_and_the_other_is_409()
    {
        var (admin, tokens) = await AdminAsync();
        var dead = await DeadJobAsync(admin.TenantId);

        var responses = await Task.WhenAll(
            _api.PostAsync($"/api/v1/dead-letters/{dead.Letter}/replay", null, tokens.Access, Guid.NewGuid().ToString()),
            _api.PostAsync($"/api/v1/dead-letters/{dead.Letter}/replay", null, tokens.Access, Guid.NewGuid().ToString()));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], responses.Select(r => r.StatusCode).Order());
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM platform.dead_letter_replays WHERE dead_letter_id = $1", dead.Letter));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Given_the_minutes_replay_budget_spent_Then_429_with_retry_after_and_the_letter_untouched()
    {
        var (admin, tokens) = await AdminAsync();
        var dead = await DeadJobAsync(admin.TenantId);
        var filler = await DeadJobAsync(null);
        await IdentityApi.ExecuteAsOwnerAsync(
            "INSERT INTO platform.dead_letter_replays (dead_letter_id, replayed_at, automatic) SELECT $1, now() - interval '10 seconds', false FROM generate_series(1, $2)",
            filler.Letter, DeadLetters.ReplaysPerMinute);
        try
        {
            using var response = await _api.PostAsync($"/api/v1/dead-letters/{dead.Letter}/replay", null, tokens.Access, Guid.NewGuid().ToString());

            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.TooManyRequests, "quota-exceeded");
            Assert.Equal("dead-letter-replays", problem.GetProperty("violated_policies")[0].GetString());
            var retryAfter = response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0;
            Assert.InRange(retryAfter, 1, 60);
            // The operation's own tier is listed first, the replay budget that refused it beside it.
            Assert.EndsWith(", \"dead-letter-replays\";q=50;w=60", string.Join(", ", response.Headers.GetValues("RateLimit-Policy")), StringComparison.Ordinal);
            Assert.EndsWith($", \"dead-letter-replays\";r=0;t={retryAfter}", string.Join(", ", response.Headers.GetValues("RateLimit")), StringComparison.Ordinal);
            Assert.Equal("HELD", await IdentityApi.ScalarAsync<string>("SELECT status FROM platform.dead_letters WHERE id = $1", dead.Letter));
        }
        finally
        {
            await IdentityApi.ExecuteAsOwnerAsync("DELETE FROM platform.dead_letter_replays WHERE dead_letter_id = $1", filler.Letter);
        }
    }

    [Fact]
    public async Task Given_a_viewer_Then_dead_letters_are_403()
    {
        var (_, tokens) = await AdminAsync();
        var email = IdentityApi.NewEmail("viewer");
        using var invited = await _api.PostAsync("/api/v1/invitations", new { email, role = "viewer" }, tokens.Access, Guid.NewGuid().ToString());
        var token = await _host.InvitationTokenAsync((await IdentityApi.Json(invited)).GetProperty("id").GetGuid());
        using (await _api.PostAsync("/api/v1/invitations/accept", new { token, password = IdentityApi.Password, display_name = "Vic" }, idempotencyKey: Guid.NewGuid().ToString()))
        {
        }

        var viewer = await _api.TokensAsync(email);
        using var response = await _api.GetAsync("/api/v1/dead-letters", viewer.Access);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Given_jobs_Then_a_member_reads_their_organisations_job_and_not_anothers_or_the_platforms()
    {
        var (a, tokens) = await AdminAsync();
        var (b, _) = await AdminAsync();
        var own = await JobAsync(a.TenantId, "RUNNING", 0.4);
        var theirs = await JobAsync(b.TenantId, "RUNNING", 0.1);
        var platform = await JobAsync(null, "QUEUED", 0);

        using var mine = await _api.GetAsync($"/api/v1/jobs/{own}", tokens.Access);
        using var other = await _api.GetAsync($"/api/v1/jobs/{theirs}", tokens.Access);
        using var platformJob = await _api.GetAsync($"/api/v1/jobs/{platform}", tokens.Access);

        Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
        var body = await IdentityApi.Json(mine);
        Assert.Equal("RUNNING", body.GetProperty("status").GetString());
        Assert.Equal(0.4, body.GetProperty("progress").GetDouble(), 3);
        await ProblemAssert.IsProblemAsync(other, HttpStatusCode.NotFound, "not-found");
        await ProblemAssert.IsProblemAsync(platformJob, HttpStatusCode.NotFound, "not-found");
    }

    private async Task<(Account Account, Tokens Tokens)> AdminAsync()
    {
        var account = await _api.NewAccountAsync();
        return (account, await _api.TokensAsync(account.Email));
    }

    private static async Task<Guid> JobAsync(Guid? tenant, string status, double progress)
    {
        var id = Guid.CreateVersion7();
        await IdentityApi.ExecuteAsOwnerAsync("""
            INSERT INTO platform.jobs (id, queue, type, tenant_id, payload, status, run_at, attempts, max_attempts, progress, created_at, updated_at)
            VALUES ($1, 'exports-api-test', 'exports.render_csv', $2, '{}', $3, now(), 1, 6, $4, now(), now())
            """, id, (object?)tenant ?? DBNull.Value, status, (float)progress);
        return id;
    }

    /// <summary>A job that exhausted its attempts against a downstream outage, and its dead letter (HELD: never replayed automatically).</summary>
    private static async Task<(Guid Job, Guid Letter, string Key)> DeadJobAsync(Guid? tenant)
    {
        var job = Guid.CreateVersion7();
        var letter = Guid.CreateVersion7();
        var key = "delivery-" + Guid.NewGuid().ToString("N");
        await IdentityApi.ExecuteAsOwnerAsync("""
            WITH dead_job AS (
                INSERT INTO platform.jobs (id, queue, type, tenant_id, payload, idempotency_key, status, run_at, attempts, max_attempts, created_at, updated_at, finished_at)
                VALUES ($1, 'webhooks-api-test', 'webhooks.deliver', $3, '{"url":"https://example.org/hook"}', $4, 'DEAD', now(), 6, 6, now(), now(), now())
                RETURNING id)
            INSERT INTO platform.dead_letters (id, source, source_id, queue, owner, tenant_id, type, payload, idempotency_key, triage, status, last_error, attempts, created_at, updated_at)
            SELECT $2, 'job', id, 'webhooks-api-test', 'webhooks', $3, 'webhooks.deliver', '{"url":"https://example.org/hook"}', $4,
                   'downstream_outage', 'HELD', 'DownstreamUnavailableException: The receiver answered 503 six times.', '[{},{},{},{},{},{}]', now(), now()
            FROM dead_job
            """, job, letter, (object?)tenant ?? DBNull.Value, key);
        return (job, letter, key);
    }
}
