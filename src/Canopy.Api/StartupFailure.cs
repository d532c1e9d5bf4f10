using Microsoft.Extensions.Options;

namespace Canopy.Api;

internal static class StartupFailure
{
    /// <summary>Whether this process is Canopy itself rather than a test host running it.</summary>
    public static bool IsOwnProcess => System.Reflection.Assembly.GetEntryAssembly() == typeof(StartupFailure).Assembly;

    /// <summary>A failure that means "do not run like this", as opposed to a bug.</summary>
    public static bool IsFatal(Exception exception) =>
        exception is OptionsValidationException or Canopy.Platform.Postgres.DatabaseTimeZoneException or Canopy.Platform.Migrations.MigrationChecksumException
        || exception is InvalidOperationException { Source: "Canopy.Platform" or "Canopy.Api" };

    /// <summary>The reason a start failed, in one line naming the setting (never its value).</summary>
    public static string Describe(Exception exception) => exception switch
    {
        OptionsValidationException options => string.Join(" ", options.Failures),
        _ => exception.Message,
    };
}
