using Microsoft.Extensions.Options;

namespace Canopy.Api;

internal static class StartupFailure
{
    /// <summary>The reason a start failed, in one line naming the setting (never its value).</summary>
    public static string Describe(Exception exception) => exception switch
    {
        OptionsValidationException options => string.Join(" ", options.Failures),
        _ => exception.Message,
    };
}
