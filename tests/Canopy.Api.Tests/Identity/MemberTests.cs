using System.Net;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Identity;

public sealed class MemberTests : IClassFixture<IdentityHost>
{
    private readonly IdentityHost _host;
    private readonly IdentityApi _api;

    public MemberTests(IdentityHost host)
    {
        _host = host;
        _api = new IdentityApi(host.Factory.CreateClient());
    }

    [Fact]
    public async Task Given_an_invitation_Then_its_token_travels_encrypted_in_the_outbox_and_accepting_it_creates_a_member_who_can_sign_in()
    {
        var owner = await _api.NewAccountAsync();
        var tokens = await _api.TokensAsync(owner.Email);
        var email = IdentityApi.NewEmail("operator");

        using var invited = await Invite(tokens.Access, email, "operator");

        Assert.Equal(HttpStatusCode.Created, invited.StatusCode);
        var invitation = await IdentityApi.Json(invited);
        Assert.Equal(email, invitation.GetProperty("email").GetString());
        var token = await _host.InvitationTokenAsync(invitation.GetProperty("id").GetGuid());
        var payload = await IdentityApi.ScalarAsync<string>("SELECT payload::text FROM platform.outbox WHERE aggregate_id = $1", invitation.GetProperty("id").GetGuid());
        Assert.DoesNotContain(token, payload!, StringComparison.Ordinal);
        Assert.DoesNotContain(email, payload!, StringComparison.OrdinalIgnoreCase);

        using var accepted = await Accept(token);

        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        Assert.Equal("operator", (await IdentityApi.Json(accepted)).GetProperty("role").GetString());
        var memberTokens = await _api.TokensAsync(email);
        using var me = await _api.GetAsync("/api/v1/me", memberTokens.Access);
        var body = await IdentityApi.Json(me);
        Assert.Equal(owner.TenantId, body.GetProperty("tenant_id").GetGuid());
        using var list = await _api.GetAsync("/api/v1/members", tokens.Access);
        Assert.Equal(2, (await IdentityApi.Json(list)).GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Given_an_invitation_used_once_or_expired_Then_410_and_no_second_member()
    {
        var owner = await _api.NewAccountAsync();
        var tokens = await _api.TokensAsync(owner.Email);
        using var first = await Invite(tokens.Access, IdentityApi.NewEmail(), "viewer");
        var token = await _host.InvitationTokenAsync((await IdentityApi.Json(first)).GetProperty("id").GetGuid());
        using var expiring = await Invite(tokens.Access, IdentityApi.NewEmail(), "viewer");
        var expiringId = (await IdentityApi.Json(expiring)).GetProperty("id").GetGuid();
        var expiredToken = await _host.InvitationTokenAsync(expiringId);
        await IdentityApi.ExecuteAsOwnerAsync("UPDATE identity.invitations SET expires_at = now() - interval '1 second' WHERE id = $1", expiringId);

        using var accepted = await Accept(token);
        using var reused = await Accept(token);
        using var expired = await Accept(expiredToken);

        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        await ProblemAssert.IsProblemAsync(reused, HttpStatusCode.Gone, "gone");
        await ProblemAssert.IsProblemAsync(expired, HttpStatusCode.Gone, "gone");
        Assert.Equal(2L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.memberships WHERE tenant_id = $1", owner.TenantId));
    }

    [Fact]
    public async Task Given_a_viewer_Then_inviting_is_403_and_an_admin_cannot_invite_an_owner()
    {
        var owner = await _api.NewAccountAsync();
        var ownerTokens = await _api.TokensAsync(owner.Email);
        var viewer = await AddMemberAsync(ownerTokens.Access, "viewer");
        var admin = await AddMemberAsync(ownerTokens.Access, "admin");

        using var byViewer = await Invite(viewer.Access, IdentityApi.NewEmail(), "viewer");
        using var ownerByAdmin = await Invite(admin.Access, IdentityApi.NewEmail(), "owner");
        using var operatorByAdmin = await Invite(admin.Access, IdentityApi.NewEmail(), "operator");

        await ProblemAssert.IsProblemAsync(byViewer, HttpStatusCode.Forbidden, "forbidden");
        await ProblemAssert.IsProblemAsync(ownerByAdmin, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(HttpStatusCode.Created, operatorByAdmin.StatusCode);
    }

    [Fact]
    public async Task Given_an_address_with_an_account_elsewhere_Then_inviting_it_does_not_tell_and_accepting_is_409()
    {
        var owner = await _api.NewAccountAsync();
        var other = await _api.NewAccountAsync();
        var tokens = await _api.TokensAsync(owner.Email);

        using var invited = await Invite(tokens.Access, other.Email.ToUpperInvariant(), "viewer");

        Assert.Equal(HttpStatusCode.Created, invited.StatusCode);
        using var accepted = await Accept(await _host.InvitationTokenAsync((await IdentityApi.Json(invited)).GetProperty("id").GetGuid()));
        await ProblemAssert.IsProblemAsync(accepted, HttpStatusCode.Conflict, "conflict");
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.memberships WHERE tenant_id = $1", owner.TenantId));
    }

    [Fact]
    public async Task Given_an_address_of_a_member_of_the_same_organisation_Then_inviting_it_is_409()
    {
        var owner = await _api.NewAccountAsync();
        var tokens = await _api.TokensAsync(owner.Email);

        using var response = await Invite(tokens.Access, owner.Email.ToUpperInvariant(), "viewer");

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Conflict, "conflict");
    }

    [Fact]
    public async Task Given_the_last_owner_Then_demoting_or_removing_them_is_409_and_after_a_second_owner_exists_it_works()
    {
        var owner = await _api.NewAccountAsync();
        var tokens = await _api.TokensAsync(owner.Email);

        using var demote = await ChangeRole(tokens.Access, owner.MemberId, "admin");
        using var remove = await _api.PostAsync($"/api/v1/members/{owner.MemberId}/remove", null, tokens.Access);

        await ProblemAssert.IsProblemAsync(demote, HttpStatusCode.Conflict, "conflict");
        await ProblemAssert.IsProblemAsync(remove, HttpStatusCode.Conflict, "conflict");
        var second = await AddMemberAsync(tokens.Access, "admin");
        using var promote = await ChangeRole(tokens.Access, second.MemberId, "owner");
        Assert.Equal(HttpStatusCode.OK, promote.StatusCode);
        using var demoteNow = await ChangeRole(tokens.Access, owner.MemberId, "admin");
        Assert.Equal(HttpStatusCode.OK, demoteNow.StatusCode);
    }

    [Fact]
    public async Task Given_two_owners_demoting_each_other_at_the_same_moment_Then_exactly_one_owner_remains()
    {
        var owner = await _api.NewAccountAsync();
        var tokens = await _api.TokensAsync(owner.Email);
        var second = await AddMemberAsync(tokens.Access, "owner");

        var responses = await Task.WhenAll(ChangeRole(tokens.Access, second.MemberId, "admin"), ChangeRole(second.Access, owner.MemberId, "admin"));

        // The loser either waited on the tenant lock and found itself the last owner (409), or
        // arrived after the winner's demotion had already stopped its token (401).
        var statuses = responses.Select(r => r.StatusCode).Order().ToArray();
        Assert.Equal(HttpStatusCode.OK, statuses[0]);
        Assert.Contains(statuses[1], new[] { HttpStatusCode.Unauthorized, HttpStatusCode.Conflict });
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.memberships WHERE tenant_id = $1 AND role = 'owner' AND NOT is_deleted", owner.TenantId));
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.security_events WHERE tenant_id = $1 AND kind = 'role_changed'", owner.TenantId));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Given_a_role_change_Then_the_members_current_token_stops_working_and_a_fresh_one_carries_the_new_role()
    {
        var owner = await _api.NewAccountAsync();
        var tokens = await _api.TokensAsync(owner.Email);
        var admin = await AddMemberAsync(tokens.Access, "admin");

        using var demoted = await ChangeRole(tokens.Access, admin.MemberId, "viewer");

        Assert.Equal(HttpStatusCode.OK, demoted.StatusCode);
        using var stale = await Invite(admin.Access, IdentityApi.NewEmail(), "viewer");
        await ProblemAssert.IsProblemAsync(stale, HttpStatusCode.Unauthorized, "unauthenticated");
        var fresh = await _api.TokensAsync(admin.Email);
        using var refused = await Invite(fresh.Access, IdentityApi.NewEmail(), "viewer");
        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.security_events WHERE subject_id = $1 AND kind = 'role_changed'", admin.UserId));
    }

    [Fact]
    public async Task Given_a_removed_member_Then_their_tokens_stop_working_and_they_are_no_longer_listed()
    {
        var owner = await _api.NewAccountAsync();
        var tokens = await _api.TokensAsync(owner.Email);
        var viewer = await AddMemberAsync(tokens.Access, "viewer");

        using var removed = await _api.PostAsync($"/api/v1/members/{viewer.MemberId}/remove", null, tokens.Access);

        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        using var me = await _api.GetAsync("/api/v1/me", viewer.Access);
        await ProblemAssert.IsProblemAsync(me, HttpStatusCode.Unauthorized, "unauthenticated");
        using var refresh = await _api.RefreshAsync(viewer.Refresh);
        await ProblemAssert.IsProblemAsync(refresh, HttpStatusCode.Unauthorized, "unauthenticated");
        using var list = await _api.GetAsync("/api/v1/members", tokens.Access);
        Assert.DoesNotContain((await IdentityApi.Json(list)).GetProperty("data").EnumerateArray(), m => m.GetProperty("id").GetGuid() == viewer.MemberId);
        Assert.True(await IdentityApi.ScalarAsync<bool>("SELECT is_deleted FROM identity.memberships WHERE id = $1", viewer.MemberId));
    }

    [Fact]
    public async Task Given_a_token_of_another_organisation_Then_its_members_are_404()
    {
        var a = await _api.NewAccountAsync();
        var b = await _api.NewAccountAsync();
        var tokensA = await _api.TokensAsync(a.Email);

        using var response = await ChangeRole(tokensA.Access, b.MemberId, "viewer");

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound, "not-found");
        Assert.Equal("owner", await IdentityApi.ScalarAsync<string>("SELECT role FROM identity.memberships WHERE id = $1", b.MemberId));
    }

    [Fact]
    public async Task Given_more_members_than_a_page_Then_the_cursor_walks_every_member_once()
    {
        var owner = await _api.NewAccountAsync();
        var tokens = await _api.TokensAsync(owner.Email);
        for (var i = 0; i < 2; i++)
        {
            await AddMemberAsync(tokens.Access, "viewer");
        }

        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            using var page = await _api.GetAsync("/api/v1/members?limit=2" + (cursor is null ? "" : "&cursor=" + cursor), tokens.Access);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var body = await IdentityApi.Json(page);
            seen.AddRange(body.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetGuid()));
            cursor = body.GetProperty("has_more").GetBoolean() ? body.GetProperty("next_cursor").GetString() : null;
        }
        while (cursor is not null);

        Assert.Equal(3, seen.Distinct().Count());
        Assert.Equal(3, seen.Count);
    }

    private Task<HttpResponseMessage> Invite(string access, string email, string role) =>
        _api.PostAsync("/api/v1/invitations", new { email, role }, access, Guid.NewGuid().ToString());

    private Task<HttpResponseMessage> Accept(string token) =>
        _api.PostAsync("/api/v1/invitations/accept", new { token, password = IdentityApi.Password, display_name = "Sam Okafor" }, idempotencyKey: Guid.NewGuid().ToString());

    private Task<HttpResponseMessage> ChangeRole(string access, Guid member, string role) =>
        _api.PostAsync($"/api/v1/members/{member}/change-role", new { role }, access);

    private async Task<(string Email, Guid MemberId, Guid UserId, string Access, string Refresh)> AddMemberAsync(string ownerAccess, string role)
    {
        var email = IdentityApi.NewEmail(role);
        using var invited = await Invite(ownerAccess, email, role);
        Assert.Equal(HttpStatusCode.Created, invited.StatusCode);
        using var accepted = await Accept(await _host.InvitationTokenAsync((await IdentityApi.Json(invited)).GetProperty("id").GetGuid()));
        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        var member = await IdentityApi.Json(accepted);
        var tokens = await _api.TokensAsync(email);
        return (email, member.GetProperty("id").GetGuid(), member.GetProperty("user_id").GetGuid(), tokens.Access, tokens.Refresh);
    }
}
