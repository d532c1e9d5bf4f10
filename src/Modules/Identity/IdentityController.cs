using Canopy.Contracts;
using Canopy.Identity.Features;
using Canopy.Identity.Security;
using Canopy.Platform.Problems;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Canopy.Identity;

/// <summary>The module's use cases, handed to its controller (public for MVC, the use cases stay internal).</summary>
public sealed class IdentityFeatures
{
    internal IdentityFeatures(Features.SignUp signUp, Sessions sessions, Members members, MyAccount myAccount, SecurityEvents securityEvents, SigningKeyRing keys)
    {
        SignUp = signUp;
        Sessions = sessions;
        Members = members;
        MyAccount = myAccount;
        SecurityEvents = securityEvents;
        Keys = keys;
    }

    internal Features.SignUp SignUp { get; }

    internal Sessions Sessions { get; }

    internal Members Members { get; }

    internal MyAccount MyAccount { get; }

    internal SecurityEvents SecurityEvents { get; }

    internal SigningKeyRing Keys { get; }
}

/// <summary>The operations of the Identity tag: translate, call the feature, translate.</summary>
/// <remarks>Who may call what comes from x-roles in the spec, enforced before these methods run.</remarks>
public sealed class IdentityController(IdentityFeatures features) : IdentityControllerBase
{
    private readonly Features.SignUp _signUp = features.SignUp;
    private readonly Sessions _sessions = features.Sessions;
    private readonly Members _members = features.Members;
    private readonly MyAccount _myAccount = features.MyAccount;
    private readonly SecurityEvents _securityEvents = features.SecurityEvents;
    private readonly SigningKeyRing _keys = features.Keys;

    public override async Task<ActionResult<SignUpResult>> SignUp(string idempotency_Key, SignUpRequest body, CancellationToken cancellationToken = default)
    {
        var result = await _signUp.HandleAsync(body, Address, cancellationToken).ConfigureAwait(false);
        return Created(new Uri("/api/v1/me", UriKind.Relative), result);
    }

    public override async Task<ActionResult<TokenResponse>> IssueTokens(IssueTokensRequest body, CancellationToken cancellationToken = default)
    {
        var tokens = await _sessions.IssueAsync(body, Address, cancellationToken).ConfigureAwait(false);
        Response.Headers.CacheControl = "no-store";
        return tokens;
    }

    public override async Task<ActionResult<TokenResponse>> RefreshTokens(RefreshTokensRequest body, CancellationToken cancellationToken = default)
    {
        var tokens = await _sessions.RefreshAsync(body, Address, cancellationToken).ConfigureAwait(false);
        Response.Headers.CacheControl = "no-store";
        return tokens;
    }

    public override async Task<IActionResult> RevokeTokens(RevokeTokensRequest body, CancellationToken cancellationToken = default)
    {
        var (jti, expires) = CurrentToken();
        await _sessions.RevokeAsync(Caller, jti, expires, body.Refresh_token, Address, cancellationToken).ConfigureAwait(false);
        return NoContent();
    }

    public override Task<ActionResult<JsonWebKeySet>> GetJwks(CancellationToken cancellationToken = default)
    {
        Response.Headers.CacheControl = "public, max-age=300";
        return Task.FromResult<ActionResult<JsonWebKeySet>>(_keys.PublicKeys());
    }

    public override async Task<ActionResult<Me>> GetMe(CancellationToken cancellationToken = default) =>
        await _myAccount.GetAsync(Caller, cancellationToken).ConfigureAwait(false);

    public override async Task<ActionResult<MyData>> ExportMyData(CancellationToken cancellationToken = default)
    {
        var data = await _myAccount.ExportAsync(Caller, cancellationToken).ConfigureAwait(false);
        Response.Headers.CacheControl = "no-store";
        return data;
    }

    public override async Task<IActionResult> EraseMe(string idempotency_Key, CancellationToken cancellationToken = default)
    {
        var (jti, expires) = CurrentToken();
        await _myAccount.EraseAsync(Caller, jti, expires, Address, cancellationToken).ConfigureAwait(false);
        return NoContent();
    }

    public override async Task<ActionResult<MemberPage>> ListMembers(string? cursor = null, int? limit = 50, CancellationToken cancellationToken = default) =>
        await _members.ListAsync(Caller, cursor, limit ?? 50, cancellationToken).ConfigureAwait(false);

    public override async Task<ActionResult<Invitation>> InviteMember(string idempotency_Key, InviteMemberRequest body, CancellationToken cancellationToken = default)
    {
        var invitation = await _members.InviteAsync(Caller, body, Address, cancellationToken).ConfigureAwait(false);
        return Created(new Uri("/api/v1/members", UriKind.Relative), invitation);
    }

    public override async Task<ActionResult<Member>> AcceptInvitation(string idempotency_Key, AcceptInvitationRequest body, CancellationToken cancellationToken = default)
    {
        var member = await _members.AcceptAsync(body, Address, cancellationToken).ConfigureAwait(false);
        return StatusCode(StatusCodes.Status201Created, member);
    }

    public override async Task<ActionResult<Member>> ChangeMemberRole(Guid member_id, ChangeMemberRoleRequest body, string? idempotency_Key = null, CancellationToken cancellationToken = default) =>
        await _members.ChangeRoleAsync(Caller, member_id, body.Role, Address, cancellationToken).ConfigureAwait(false);

    public override async Task<IActionResult> RemoveMember(Guid member_id, string? idempotency_Key = null, CancellationToken cancellationToken = default)
    {
        await _members.RemoveAsync(Caller, member_id, Address, cancellationToken).ConfigureAwait(false);
        return NoContent();
    }

    public override async Task<ActionResult<SecurityEventPage>> ListSecurityEvents(string? cursor = null, int? limit = 50, CancellationToken cancellationToken = default) =>
        await _securityEvents.ListAsync(Caller, cursor, limit ?? 50, cancellationToken).ConfigureAwait(false);

    private System.Net.IPAddress? Address => HttpContext.Connection.RemoteIpAddress;

    private AccessTokenSubject Caller => AccessTokens.SubjectOf(User)
        ?? throw new ProblemException(ProblemTypes.Unauthenticated, "The access token does not name a member.");

    private (string Jti, DateTimeOffset Expires) CurrentToken()
    {
        var jti = User.FindFirst(JwtRegisteredClaimNames.Jti)?.Value;
        var exp = User.FindFirst(JwtRegisteredClaimNames.Exp)?.Value;
        return jti is not null && long.TryParse(exp, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            ? (jti, DateTimeOffset.FromUnixTimeSeconds(seconds))
            : throw new ProblemException(ProblemTypes.Unauthenticated, "The access token has no id or expiry.");
    }
}
