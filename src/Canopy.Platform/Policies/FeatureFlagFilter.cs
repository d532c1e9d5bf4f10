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
public sealed class FeatureFlagFilter(OperationCatalog catalog, IFeatureManager features, IConfiguration configuration) : IAsyncResourceFilter
{
    public const string Extension = "x-feature-flag";
    public const string Header = "X-Feature-Flag";

    public async Task OnResourceExecutionAsync(ResourceExecutingContext context, ResourceExecutionDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var flag = catalog.For(context.ActionDescriptor)?.Extensions.GetValueOrDefault(Extension);
        if (flag is null || await features.IsEnabledAsync(flag).ConfigureAwait(false) || DarkLaunched(context, flag))
        {
            await next().ConfigureAwait(false);
            return;
        }

        context.Result = ProblemFactory.Result(context.HttpContext, ProblemTypes.NotFound, "Nothing exists at this address.");
    }

    private bool DarkLaunched(ResourceExecutingContext context, string flag)
    {
        var asked = context.HttpContext.Request.Headers[Header].ToString()
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Contains(flag, StringComparer.Ordinal);
        var tenant = context.HttpContext.User.FindFirst("tid")?.Value;
        return asked && tenant is not null
            && (configuration.GetSection($"FeatureFlags:{flag}:DarkLaunchTenants").Get<string[]>() ?? [])
                .Contains(tenant, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The flags declared in configuration (on or off).</summary>
    public static IReadOnlyCollection<string> Declared(IConfiguration configuration) =>
        configuration.GetSection("FeatureManagement").GetChildren().Select(c => c.Key).ToList();
}
