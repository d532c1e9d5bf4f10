using System.Security.Claims;
using Canopy.Identity.Domain;
using Canopy.Platform.Security;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Canopy.Identity.Security;

/// <summary>Who an access token speaks for.</summary>
internal sealed record AccessTokenSubject(Guid UserId, Guid TenantId, Guid MemberId, MemberRole Role, int MembershipVersion);

/// <summary>Issues ES256 access tokens and states exactly what a valid one is.</summary>
internal sealed class AccessTokens(SigningKeyRing keys, IOptions<IdentityOptions> options, TimeProvider time)
{
    public const string TokenType = "at+jwt";
    public const string TenantClaim = "tid";
    public const string MemberClaim = "mid";
    public const string RoleClaim = "role";
    public const string VersionClaim = "ver";

    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public TimeSpan Lifetime => TimeSpan.FromMinutes(options.Value.AccessTokenMinutes);

    public string Issue(AccessTokenSubject subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        return Es256Tokens.Issue(_handler, keys, time, options.Value.Issuer, options.Value.Audience, TokenType, Lifetime, new Dictionary<string, object>
        {
            [JwtRegisteredClaimNames.Sub] = subject.UserId.ToString(),
            [TenantClaim] = subject.TenantId.ToString(),
            [MemberClaim] = subject.MemberId.ToString(),
            [RoleClaim] = subject.Role.Name(),
            [VersionClaim] = subject.MembershipVersion,
        });
    }

    /// <summary>Canopy's ES256 rules (<see cref="Es256Tokens"/>) for the at+jwt type, this issuer and audience; roles from the role claim.</summary>
    public TokenValidationParameters ValidationParameters()
    {
        var parameters = Es256Tokens.ValidationParameters(keys, time, options.Value.Issuer, options.Value.Audience, TokenType);
        parameters.RoleClaimType = RoleClaim;
        return parameters;
    }

    public static AccessTokenSubject? SubjectOf(ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return Guid.TryParse(principal.FindFirstValue(JwtRegisteredClaimNames.Sub), out var user)
            && Guid.TryParse(principal.FindFirstValue(TenantClaim), out var tenant)
            && Guid.TryParse(principal.FindFirstValue(MemberClaim), out var member)
            && MemberRoles.TryParse(principal.FindFirstValue(RoleClaim), out var role)
            && int.TryParse(principal.FindFirstValue(VersionClaim), System.Globalization.CultureInfo.InvariantCulture, out var version)
            ? new AccessTokenSubject(user, tenant, member, role, version)
            : null;
    }
}
