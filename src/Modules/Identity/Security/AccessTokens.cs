using System.Security.Claims;
using Canopy.Identity.Domain;
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
        var now = time.GetUtcNow();
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = options.Value.Issuer,
            Audience = options.Value.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + Lifetime).UtcDateTime,
            TokenType = TokenType,
            SigningCredentials = keys.Signing,
            Claims = new Dictionary<string, object>
            {
                [JwtRegisteredClaimNames.Sub] = subject.UserId.ToString(),
                [JwtRegisteredClaimNames.Jti] = Guid.CreateVersion7(now).ToString(),
                [TenantClaim] = subject.TenantId.ToString(),
                [MemberClaim] = subject.MemberId.ToString(),
                [RoleClaim] = subject.Role.Name(),
                [VersionClaim] = subject.MembershipVersion,
            },
        });
    }

    /// <summary>
    /// Exactly one algorithm (ES256), the at+jwt type, a known key id, this issuer and audience,
    /// and a lifetime checked against the service's clock: valid from nbf, invalid from exp on.
    /// </summary>
    public TokenValidationParameters ValidationParameters() => new()
    {
        ValidIssuer = options.Value.Issuer,
        ValidAudience = options.Value.Audience,
        IssuerSigningKeys = keys.Verification,
        ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
        ValidTypes = [TokenType],
        RequireSignedTokens = true,
        RequireExpirationTime = true,
        TryAllIssuerSigningKeys = false,
        ValidateIssuerSigningKey = true,
        ClockSkew = TimeSpan.Zero,
        LifetimeValidator = (notBefore, expires, _, _) =>
        {
            var now = time.GetUtcNow().UtcDateTime;
            return expires is { } exp && now < exp && (notBefore is not { } nbf || nbf <= now);
        },
        NameClaimType = JwtRegisteredClaimNames.Sub,
        RoleClaimType = RoleClaim,
    };

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
