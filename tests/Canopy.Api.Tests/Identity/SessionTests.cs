using System.Net;
using Canopy.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Identity;

public sealed class SessionTests : IClassFixture<IdentityHost>
{
    private readonly IdentityApi _api;

    public SessionTests(IdentityHost host) => _api = new IdentityApi(host.Factory.CreateClient());

    [Fact]
    public async Task Given_an_unknown_email_and_a_wrong_password_Then_the_answers_are_the_same_problem()
    {
        var account = await _api.NewAccountAsync();
        var unknownBefore = await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.security_events WHERE tenant_id IS NULL AND kind = 'login_failed'");

        using var unknown = await _api.SignInAsync(IdentityApi.NewEmail("nobody"));
        using var wrong = await _api.SignInAsync(account.Email, "not-the-password-at-all");

        var a = await ProblemAssert.IsProblemAsync(unknown, HttpStatusCode.Unauthorized, "invalid-credentials");
        var b = await ProblemAssert.IsProblemAsync(wrong, HttpStatusCode.Unauthorized, "invalid-credentials");
        Assert.Equal(a.GetProperty("detail").GetString(), b.GetProperty("detail").GetString());
        Assert.Equal(unknown.Headers.WwwAuthenticate.ToString(), wrong.Headers.WwwAuthenticate.ToString());
        // Both were written to a security log: the unknown address to the chain of no account.
        Assert.True(await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.security_events WHERE tenant_id IS NULL AND kind = 'login_failed'") > unknownBefore);
    }

    [Fact]
    public async Task Given_four_failures_Then_the_right_password_still_signs_in()
    {
        var account = await _api.NewAccountAsync();
        for (var i = 0; i < 4; i++)
        {
            using var failed = await _api.SignInAsync(account.Email, "wrong-password-" + i);
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }

        using var response = await _api.SignInAsync(account.Email);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Given_the_fifth_failure_Then_the_account_is_locked_even_for_the_right_password_and_the_lockout_is_logged()
    {
        var account = await _api.NewAccountAsync();
        for (var i = 0; i < 5; i++)
        {
            using var failed = await _api.SignInAsync(account.Email, "wrong-password-" + i);
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }

        using var response = await _api.SignInAsync(account.Email);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "invalid-credentials");
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.security_events WHERE subject_id = $1 AND kind = 'locked_out'", account.UserId));
        Assert.Equal(6L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.security_events WHERE subject_id = $1 AND kind = 'login_failed'", account.UserId));
        Assert.True(await IdentityApi.ScalarAsync<DateTime>("SELECT locked_until FROM identity.users WHERE id = $1", account.UserId) > DateTime.UtcNow.AddMinutes(14));
    }

    [Fact]
    public async Task Given_a_refresh_Then_new_tokens_and_the_old_refresh_token_is_spent()
    {
        var account = await _api.NewAccountAsync();
        var first = await _api.TokensAsync(account.Email);

        using var refreshed = await _api.RefreshAsync(first.Refresh);

        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        var second = await IdentityApi.ReadTokens(refreshed);
        Assert.NotEqual(first.Refresh, second.Refresh);
        using var me = await _api.GetAsync("/api/v1/me", second.Access);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(2L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.refresh_tokens WHERE user_id = $1", account.UserId));
    }

    [Fact]
    public async Task Given_a_used_refresh_token_presented_again_Then_401_the_whole_family_is_revoked_and_a_security_event_is_written()
    {
        var account = await _api.NewAccountAsync();
        var first = await _api.TokensAsync(account.Email);
        using var rotated = await _api.RefreshAsync(first.Refresh);
        var second = await IdentityApi.ReadTokens(rotated);

        using var reuse = await _api.RefreshAsync(first.Refresh);
        using var successor = await _api.RefreshAsync(second.Refresh);

        await ProblemAssert.IsProblemAsync(reuse, HttpStatusCode.Unauthorized, "unauthenticated");
        await ProblemAssert.IsProblemAsync(successor, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL AND used_at IS NULL", account.UserId));
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.security_events WHERE subject_id = $1 AND kind = 'refresh_reused'", account.UserId));
    }

    [Fact]
    public async Task Given_two_refreshes_with_one_token_at_the_same_moment_Then_at_most_one_succeeds_and_the_family_ends_revoked()
    {
        var account = await _api.NewAccountAsync();
        var first = await _api.TokensAsync(account.Email);

        var responses = await Task.WhenAll(_api.RefreshAsync(first.Refresh), _api.RefreshAsync(first.Refresh));

        Assert.True(responses.Count(r => r.StatusCode == HttpStatusCode.OK) <= 1);
        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.Unauthorized);
        foreach (var ok in responses.Where(r => r.StatusCode == HttpStatusCode.OK))
        {
            using var later = await _api.RefreshAsync((await IdentityApi.ReadTokens(ok)).Refresh);
            Assert.Equal(HttpStatusCode.Unauthorized, later.StatusCode);
        }

        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL AND used_at IS NULL", account.UserId));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Given_sign_out_Then_the_access_token_and_the_refresh_family_stop_working()
    {
        var account = await _api.NewAccountAsync();
        var tokens = await _api.TokensAsync(account.Email);

        using var revoke = await _api.PostAsync("/api/v1/auth/tokens/revoke", new { refresh_token = tokens.Refresh }, tokens.Access);

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        using var me = await _api.GetAsync("/api/v1/me", tokens.Access);
        await ProblemAssert.IsProblemAsync(me, HttpStatusCode.Unauthorized, "unauthenticated");
        using var refresh = await _api.RefreshAsync(tokens.Refresh);
        await ProblemAssert.IsProblemAsync(refresh, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.security_events WHERE subject_id = $1 AND kind = 'logged_out'", account.UserId));
        // Recorded in PostgreSQL too, until the token would have expired anyway.
        Assert.True(await IdentityApi.ScalarAsync<bool>(
            "SELECT expires_at BETWEEN now() AND now() + interval '16 minutes' FROM identity.blocked_access_tokens WHERE tenant_id = $1", account.TenantId));
    }

    [Fact]
    public async Task Given_malformed_json_or_a_missing_member_Then_400_and_422_problems_not_a_crash()
    {
        using var malformed = await _api.Client.PostAsync(
            new Uri("/api/v1/auth/tokens", UriKind.Relative), new StringContent("{\"email\": ", System.Text.Encoding.UTF8, "application/json"));
        using var missing = await _api.PostAsync("/api/v1/auth/tokens", new { email = IdentityApi.NewEmail() });

        await ProblemAssert.IsProblemAsync(malformed, HttpStatusCode.BadRequest, "malformed-request");
        var problem = await ProblemAssert.IsProblemAsync(missing, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Contains(ProblemAssert.Errors(problem), e => e.Pointer == "#/password");
    }

    [Fact]
    public async Task Given_a_refresh_token_that_was_never_issued_Then_401()
    {
        using var response = await _api.RefreshAsync("rt_" + Guid.NewGuid().ToString("N"));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Given_refresh_tokens_bound_to_devices_Then_only_the_issuing_devices_fingerprint_refreshes()
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { ["Identity:BindRefreshTokensToDevice"] = "true" });
        var api = new IdentityApi(factory.CreateClient());
        var account = await api.NewAccountAsync();
        using var signIn = await api.SignInAsync(account.Email, fingerprint: "tablet-7f3a");
        var tokens = await IdentityApi.ReadTokens(signIn);

        using var elsewhere = await api.PostAsync("/api/v1/auth/tokens/refresh", new { refresh_token = tokens.Refresh, device_fingerprint = "laptop-0c21" });
        using var same = await api.PostAsync("/api/v1/auth/tokens/refresh", new { refresh_token = tokens.Refresh, device_fingerprint = "tablet-7f3a" });

        await ProblemAssert.IsProblemAsync(elsewhere, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Equal(HttpStatusCode.OK, same.StatusCode);
    }

    [Fact]
    public async Task Given_sign_up_and_sign_in_Then_no_log_line_holds_the_email_or_the_password()
    {
        var logs = new CapturedLogs();
        await using var factory = new CanopyApiFactory(configureServices: logs.InstallInto);
        var api = new IdentityApi(factory.CreateClient());
        var email = IdentityApi.NewEmail("private");

        await api.NewAccountAsync(email);
        using (await api.SignInAsync(email, "a-wrong-password-for-the-log"))
        {
        }

        await api.TokensAsync(email);
        await logs.WaitForAsync(l => l.TryGetProperty("http_route", out var r) && r.GetString() == "/api/v1/auth/tokens", "for the sign-in");
        Assert.DoesNotContain(email.Split('@')[0], logs.Text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(IdentityApi.Password, logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("a-wrong-password-for-the-log", logs.Text, StringComparison.Ordinal);
    }

    /// <summary>
    /// PostgreSQL holds what Redis's revocation notes say, so signed-in requests keep working while
    /// Redis is down, and what was revoked before stays revoked: a signed-out token, a token of a
    /// role that changed. A revocation Redis cannot take is refused whole.
    /// </summary>
    [Fact]
    public async Task Given_redis_stops_Then_signed_in_requests_are_checked_in_postgres_and_revoked_tokens_stay_refused()
    {
        using var redis = new DisposableRedis();
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis.ConnectionString });
        var api = new IdentityApi(factory.CreateClient());
        var owner = await api.NewAccountAsync();
        var kept = await api.TokensAsync(owner.Email);
        var signedOut = await api.TokensAsync(owner.Email);
        using (var revoke = await api.PostAsync("/api/v1/auth/tokens/revoke", new { refresh_token = signedOut.Refresh }, signedOut.Access))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        }

        var adminEmail = IdentityApi.NewEmail("admin");
        using var invited = await api.PostAsync("/api/v1/invitations", new { email = adminEmail, role = "admin" }, kept.Access, Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Created, invited.StatusCode);
        var invitation = await IdentityHosts.InvitationTokenAsync(factory, (await IdentityApi.Json(invited)).GetProperty("id").GetGuid());
        using var accepted = await api.PostAsync("/api/v1/invitations/accept", new { token = invitation, password = IdentityApi.Password, display_name = "Noor Haddad" }, idempotencyKey: Guid.NewGuid().ToString());
        var admin = (await IdentityApi.Json(accepted)).GetProperty("id").GetGuid();
        var asAdmin = await api.TokensAsync(adminEmail);
        using (var demoted = await api.PostAsync($"/api/v1/members/{admin}/change-role", new { role = "viewer" }, kept.Access))
        {
            Assert.Equal(HttpStatusCode.OK, demoted.StatusCode);
        }

        var asViewer = await api.TokensAsync(adminEmail);

        redis.Stop();

        using (var me = await api.GetAsync("/api/v1/me", kept.Access))
        {
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
            Assert.Equal(owner.UserId, (await IdentityApi.Json(me)).GetProperty("user_id").GetGuid());
        }

        using (var viewer = await api.GetAsync("/api/v1/me", asViewer.Access))
        {
            Assert.Equal(HttpStatusCode.OK, viewer.StatusCode);
        }

        using (var afterSignOut = await api.GetAsync("/api/v1/me", signedOut.Access))
        {
            await ProblemAssert.IsProblemAsync(afterSignOut, HttpStatusCode.Unauthorized, "unauthenticated");
        }

        using (var oldRole = await api.GetAsync("/api/v1/me", asAdmin.Access))
        {
            await ProblemAssert.IsProblemAsync(oldRole, HttpStatusCode.Unauthorized, "unauthenticated");
        }

        // Signing out needs the note in Redis (a recovered Redis would not know of it otherwise): refused, and nothing of it happened.
        using (var refusedSignOut = await api.PostAsync("/api/v1/auth/tokens/revoke", new { refresh_token = kept.Refresh }, kept.Access))
        {
            await ProblemAssert.IsProblemAsync(refusedSignOut, HttpStatusCode.ServiceUnavailable, "service-unavailable");
            Assert.NotNull(refusedSignOut.Headers.RetryAfter);
        }

        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.refresh_tokens WHERE user_id = $1 AND revoked_at IS NOT NULL AND family_id = (SELECT family_id FROM identity.refresh_tokens WHERE token_hash = $2)",
            owner.UserId, Canopy.Identity.Security.OpaqueTokens.Hash(kept.Refresh)));
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.blocked_access_tokens WHERE tenant_id = $1", owner.TenantId));

        redis.Start();
        // The restarted Redis is empty (no persistence): once the service uses it again it finds no
        // marker, sets one, and keeps asking PostgreSQL about tokens Redis finds unrevoked.
        var connection = factory.Services.GetRequiredService<Canopy.Platform.Redis.RedisConnection>();
        await WaitUntilAsync(async () =>
        {
            using var after = await api.GetAsync("/api/v1/me", kept.Access);
            return after.StatusCode == HttpStatusCode.OK
                && await MarkerAsync(connection) is { IsNull: false };
        });
        using var stillSignedOut = await api.GetAsync("/api/v1/me", signedOut.Access);
        await ProblemAssert.IsProblemAsync(stillSignedOut, HttpStatusCode.Unauthorized, "unauthenticated");
        using var stillOldRole = await api.GetAsync("/api/v1/me", asAdmin.Access);
        await ProblemAssert.IsProblemAsync(stillOldRole, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Given_the_revocation_marker_Then_postgres_is_asked_only_while_it_is_younger_than_a_token_lifetime()
    {
        using var redis = new DisposableRedis();
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis.ConnectionString });
        var api = new IdentityApi(factory.CreateClient());
        var account = await api.NewAccountAsync();
        var tokens = await api.TokensAsync(account.Email);
        var connection = factory.Services.GetRequiredService<Canopy.Platform.Redis.RedisConnection>();
        using var asked = new HostCounter(factory.Services, "identity.revocation.fallbacks", ("outcome", "redis_emptied"));

        // Kept for 16 minutes: every note Redis could have lost has expired, Redis alone answers.
        await SetMarkerAsync(connection, DateTimeOffset.UtcNow.AddMinutes(-16));
        using (var trusted = await api.GetAsync("/api/v1/me", tokens.Access))
        {
            Assert.Equal(HttpStatusCode.OK, trusted.StatusCode);
        }

        Assert.Equal(0, asked.Total);

        // Kept for 14 minutes: a note from before may be missing, so PostgreSQL is asked too.
        await SetMarkerAsync(connection, DateTimeOffset.UtcNow.AddMinutes(-14));
        using (var checkedTwice = await api.GetAsync("/api/v1/me", tokens.Access))
        {
            Assert.Equal(HttpStatusCode.OK, checkedTwice.StatusCode);
        }

        Assert.Equal(1, asked.Total);

        // Kept for 16 minutes, then the connection drops and comes back: the Redis on the other
        // end may have lost its latest notes (a restart from a snapshot, a failover), so the
        // marker is stamped anew and PostgreSQL is asked again.
        await SetMarkerAsync(connection, DateTimeOffset.UtcNow.AddMinutes(-16));
        using (var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true"))
        {
            // Every client but this one: the service's connection is cut, as a restart would cut it.
            await admin.GetDatabase().ExecuteAsync("CLIENT", "KILL", "TYPE", "normal");
        }

        await Canopy.Api.Tests.Telemetry.TelemetryApi.EventuallyAsync(async () =>
        {
            using var after = await api.GetAsync("/api/v1/me", tokens.Access);
            return after.StatusCode == HttpStatusCode.OK && asked.Total >= 2;
        }, "a check after the reconnection asked PostgreSQL");
        var stamped = (long)await MarkerAsync(connection);
        Assert.InRange(DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeMilliseconds(stamped), TimeSpan.Zero, TimeSpan.FromMinutes(1));
    }

    private static Task<bool> SetMarkerAsync(Canopy.Platform.Redis.RedisConnection connection, DateTimeOffset since) =>
        connection.ExecuteAsync("SET", db => db.StringSetAsync("identity:revocations-kept-since", since.ToUnixTimeMilliseconds()));

    private static async Task<StackExchange.Redis.RedisValue> MarkerAsync(Canopy.Platform.Redis.RedisConnection connection)
    {
        try
        {
            return await connection.ExecuteAsync("GET", db => db.StringGetAsync("identity:revocations-kept-since"));
        }
        catch (Exception ex) when (Canopy.Platform.Redis.RedisUnavailableException.Is(ex))
        {
            return StackExchange.Redis.RedisValue.Null;
        }
    }

    [Fact]
    public async Task Given_neither_redis_nor_postgres_answers_Then_signed_in_requests_fail_closed_with_503_and_public_ones_still_answer()
    {
        var logs = new CapturedLogs();
        await using var factory = new CanopyApiFactory(
            new Dictionary<string, string?>
            {
                ["ConnectionStrings:Redis"] = TestServers.RedisAt(FreePort.Next()),
                ["ConnectionStrings:Postgres"] = $"Host=127.0.0.1;Port={FreePort.Next()};Database=canopy;Username=nobody;Password=wrong-secret",
            },
            logs.InstallInto);
        var api = new IdentityApi(factory.CreateClient());
        // A well-signed token of a member nobody can look up now: it must not be let through.
        var token = factory.Services.GetRequiredService<Canopy.Identity.Security.AccessTokens>().Issue(
            new Canopy.Identity.Security.AccessTokenSubject(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Canopy.Identity.Domain.MemberRole.Owner, 1));

        using var me = await api.GetAsync("/api/v1/me", token);
        using var jwks = await api.GetAsync("/api/v1/auth/jwks", null);

        await ProblemAssert.IsProblemAsync(me, HttpStatusCode.ServiceUnavailable, "service-unavailable");
        Assert.NotNull(me.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.OK, jwks.StatusCode);
        await logs.WaitForAsync(l => l.GetProperty("message").GetString()!.Contains("neither in Redis nor in PostgreSQL", StringComparison.Ordinal), "about the refused check");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (var attempt = 0; attempt < 60; attempt++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(250);
        }

        Assert.Fail("The condition did not hold within 15 s.");
    }
}
