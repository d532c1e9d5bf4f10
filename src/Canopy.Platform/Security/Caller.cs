using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;

namespace Canopy.Platform.Security;

/// <summary>Who is calling, for filters that run before access control decides (rate limits, flags).</summary>
public static class Caller
{
    /// <summary>
    /// The authenticated principal, or null for an anonymous or invalid token. The bearer handler
    /// authenticates once per request, so asking here costs nothing when access control asks again.
    /// <paramref name="scheme"/> names the scheme of the operation's callers (null: the default, members).
    /// </summary>
    public static async Task<ClaimsPrincipal?> PrincipalAsync(HttpContext http, string? scheme = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (http.User.Identity?.IsAuthenticated == true)
        {
            return http.User;
        }

        if (string.IsNullOrEmpty(http.Request.Headers.Authorization))
        {
            return null;
        }

        var result = await (scheme is null ? http.AuthenticateAsync() : http.AuthenticateAsync(scheme)).ConfigureAwait(false);
        return result.Succeeded ? result.Principal : null;
    }
}
