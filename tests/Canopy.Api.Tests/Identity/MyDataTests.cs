using System.Net;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Identity;

public sealed class MyDataTests : IClassFixture<IdentityHost>
{
    private readonly IdentityHost _host;
    private readonly IdentityApi _api;

    public MyDataTests(IdentityHost host)
    {
        _host = host;
        _api = new IdentityApi(host.Factory.CreateClient());
    }

    [Fact]
    public async Task Given_a_member_Then_the_export_holds_their_account_sessions_and_security_events_decrypted_for_them()
    {
        var account = await _api.NewAccountAsync();
        var tokens = await _api.TokensAsync(account.Email);

        using var response = await _api.GetAsync("/api/v1/me/data-export", tokens.Access);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var body = await IdentityApi.Json(response);
        Assert.Equal(account.Email, body.GetProperty("user").GetProperty("email").GetString());
        Assert.Equal("María López", body.GetProperty("user").GetProperty("display_name").GetString());
        Assert.Equal(1, body.GetProperty("sessions").GetArrayLength());
        var kinds = body.GetProperty("security_events").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToList();
        Assert.Equal(["signed_up", "login_succeeded"], kinds);
    }

    [Fact]
    public async Task Given_erasure_Then_personal_data_is_gone_tokens_stop_working_and_the_security_log_keeps_the_pseudonymous_id()
    {
        var owner = await _api.NewAccountAsync();
        var ownerTokens = await _api.TokensAsync(owner.Email);
        // The last owner cannot erase themselves: hand ownership over first.
        using var lastOwner = await _api.PostAsync("/api/v1/me/erase", null, ownerTokens.Access, Guid.NewGuid().ToString());
        await ProblemAssert.IsProblemAsync(lastOwner, HttpStatusCode.Conflict, "conflict");
        var email = IdentityApi.NewEmail("co-owner");
        using var invite = await _api.PostAsync("/api/v1/invitations", new { email, role = "owner" }, ownerTokens.Access, Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Created, invite.StatusCode);
        var coOwner = await AcceptLatestInvitationAsync(owner.TenantId);
        var tokens = await _api.TokensAsync(email);
        var userId = await IdentityApi.ScalarAsync<Guid>("SELECT user_id FROM identity.memberships WHERE id = $1", coOwner);

        using var erased = await _api.PostAsync("/api/v1/me/erase", null, tokens.Access, Guid.NewGuid().ToString());

        Assert.Equal(HttpStatusCode.NoContent, erased.StatusCode);
        using var me = await _api.GetAsync("/api/v1/me", tokens.Access);
        await ProblemAssert.IsProblemAsync(me, HttpStatusCode.Unauthorized, "unauthenticated");
        using var refresh = await _api.RefreshAsync(tokens.Refresh);
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
        using var signIn = await _api.SignInAsync(email);
        Assert.Equal(HttpStatusCode.Unauthorized, signIn.StatusCode);
        Assert.Equal("ERASED", await IdentityApi.ScalarAsync<string>("SELECT status FROM identity.users WHERE id = $1", userId));
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>(
            "SELECT count(*) FROM identity.users WHERE id = $1 AND (email_cipher IS NOT NULL OR email_index IS NOT NULL OR display_name_cipher IS NOT NULL OR password_hash IS NOT NULL)", userId));
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.invitations WHERE tenant_id = $1", owner.TenantId));
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.security_events WHERE subject_id = $1 AND kind = 'erased'", userId));
        Assert.True(await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.security_events WHERE subject_id = $1", userId) >= 3);
        using var stillOwner = await _api.GetAsync("/api/v1/me", ownerTokens.Access);
        Assert.Equal(HttpStatusCode.OK, stillOwner.StatusCode);
    }

    private async Task<Guid> AcceptLatestInvitationAsync(Guid tenant)
    {
        var invitation = await IdentityApi.ScalarAsync<Guid>("SELECT id FROM identity.invitations WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 1", tenant);
        var token = await _host.InvitationTokenAsync(invitation);
        using var accepted = await _api.PostAsync("/api/v1/invitations/accept", new { token, password = IdentityApi.Password, display_name = "Co Owner" }, idempotencyKey: Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        return (await IdentityApi.Json(accepted)).GetProperty("id").GetGuid();
    }
}
