using Canopy.Platform.Problems;
using Canopy.Platform.Spec;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;

namespace Canopy.Platform.Security;

/// <summary>
/// Who may call an operation, from its <c>x-roles</c> in the spec and nowhere else: <c>public</c>,
/// <c>any</c> signed-in member, <c>device</c> (a device token, see <see cref="DeviceAuthentication"/>),
/// or the least role needed (viewer &lt; operator &lt; admin &lt; owner).
/// Runs before model binding, so 401 and 403 come before any validation problem.
/// </summary>
public sealed class OperationAccessFilter(OperationCatalog catalog) : IAsyncAuthorizationFilter
{
    public const string Extension = "x-roles";
    public const string RoleClaim = "role";

    /// <summary>The roles from least to most; each includes those before it.</summary>
    public static IReadOnlyList<string> Roles => RoleOrder;

    private static readonly string[] RoleOrder = ["viewer", "operator", "admin", "owner"];

    public async Task OnAuthorizationAsync(AuthorizationFilterContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var required = catalog.For(context.ActionDescriptor)?.Extensions.GetValueOrDefault(Extension);
        if (required is null or "public")
        {
            return; // platform operations (no x-roles) guard themselves; public ones need nothing
        }

        var http = context.HttpContext;
        var scheme = DeviceAuthentication.SchemeFor(required);
        var result = await (scheme is null ? http.AuthenticateAsync() : http.AuthenticateAsync(scheme)).ConfigureAwait(false);
        if (!result.Succeeded || result.Principal is null)
        {
            context.Result = scheme is null ? new ChallengeResult() : new ChallengeResult(scheme);
            return;
        }

        http.User = result.Principal;
        if (required is "any" or DeviceAuthentication.Role)
        {
            return;
        }

        var held = Rank(result.Principal.FindFirst(RoleClaim)?.Value);
        if (held < 0 || held < Rank(required))
        {
            context.Result = ProblemFactory.Result(http, ProblemTypes.Forbidden, $"This operation needs the {required} role or a higher one.");
        }
    }

    public static int Rank(string? role) => role is null ? -1 : Array.IndexOf(RoleOrder, role);
}
