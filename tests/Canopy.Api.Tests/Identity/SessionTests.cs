using System.Net;
using Canopy.Api.Tests.Infrastructure;

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

    [Fact]
    public async Task Given_redis_stops_Then_signed_in_requests_fail_closed_with_503_and_public_ones_still_answer()
    {
        using var redis = new DisposableRedis();
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis.ConnectionString });
        var api = new IdentityApi(factory.CreateClient());
        var account = await api.NewAccountAsync();
        var tokens = await api.TokensAsync(account.Email);

        redis.Stop();
        using var me = await api.GetAsync("/api/v1/me", tokens.Access);
        using var jwks = await api.GetAsync("/api/v1/auth/jwks", null);

        await ProblemAssert.IsProblemAsync(me, HttpStatusCode.ServiceUnavailable, "service-unavailable");
        Assert.NotNull(me.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.OK, jwks.StatusCode);
        redis.Start();
        // The client reconnects on its own schedule; the same token works again once it has.
        var recovered = HttpStatusCode.ServiceUnavailable;
        for (var attempt = 0; attempt < 60 && recovered != HttpStatusCode.OK; attempt++)
        {
            await Task.Delay(250);
            using var after = await api.GetAsync("/api/v1/me", tokens.Access);
            recovered = after.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, recovered);
    }
}
