using System.Security.Claims;
using Microsoft.Extensions.Options;

namespace Canopy.Platform.Security;

/// <summary>
/// Platform operators (section <c>Platform</c>, <c>Platform__Operators__0=&lt;user id&gt;</c>…): people who
/// may see and triage the platform's own dead letters. Granted by configuration only; no
/// organisation can make anyone an operator.
/// </summary>
public sealed class PlatformOperatorOptions
{
    public const string Section = "Platform";

    public List<Guid> Operators { get; } = [];
}

public sealed class PlatformOperators(IOptions<PlatformOperatorOptions> options)
{
    public bool Includes(ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return principal.Identity?.IsAuthenticated == true
            && Guid.TryParse(principal.FindFirst("sub")?.Value, out var user)
            && options.Value.Operators.Contains(user);
    }
}
