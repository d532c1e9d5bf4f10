using Canopy.Platform.Problems;
using Canopy.Platform.Spec;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.Extensions.Configuration;
using Microsoft.FeatureManagement;

namespace Canopy.Platform.Policies;

/// <summary>
/// An operation behind <c>x-feature-flag</c> answers only while its flag is on
/// (<c>FeatureManagement__&lt;flag&gt;</c>); while it is off it does not exist (404 problem),
/// except for an organisation listed in <c>FeatureFlags__&lt;flag&gt;__DarkLaunchTenants</c> that
/// asks for it with <c>X-Feature-Flag: &lt;flag&gt;</c>.
/// </summary>
/// <remarks>Runs first among the authorization filters: a switched-off operation answers like an unknown address, to everyone.</remarks>
public sealed class FeatureFlagFilter(OperationCatalog catalog, IFeatureManager features, IConfiguration configuration) : IAsyncAuthorizationFilter
{
    public const string Extension = "x-feature-flag";
    public const string Header = "X-Feature-Flag";

    public async Task OnAuthorizationAsync(AuthorizationFilterContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var flag = catalog.For(context.ActionDescriptor)?.Extensions.GetValueOrDefault(Extension);
        if (flag is null || await features.IsEnabledAsync(flag).ConfigureAwait(false) || await DarkLaunchedAsync(context.HttpContext, flag).ConfigureAwait(false))
        {
            return;
        }

        context.Result = ProblemFactory.Result(context.HttpContext, ProblemTypes.NotFound, "Nothing exists at this address.");
    }

    private async Task<bool> DarkLaunchedAsync(Microsoft.AspNetCore.Http.HttpContext http, string flag)
    {
        var asked = http.Request.Headers[Header].ToString()
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Contains(flag, StringComparer.Ordinal);
        if (!asked)
        {
            return false;
        }

        var tenant = (await Security.Caller.PrincipalAsync(http).ConfigureAwait(false))?.FindFirst("tid")?.Value;
        return asked && tenant is not null
            && (configuration.GetSection($"FeatureFlags:{flag}:DarkLaunchTenants").Get<string[]>() ?? [])
                .Contains(tenant, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The flags declared in configuration (on or off).</summary>
    public static IReadOnlyCollection<string> Declared(IConfiguration configuration) =>
        configuration.GetSection("FeatureManagement").GetChildren().Select(c => c.Key).ToList();
}
