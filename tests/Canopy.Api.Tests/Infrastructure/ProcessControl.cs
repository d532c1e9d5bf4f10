using System.Diagnostics;
using System.Globalization;

namespace Canopy.Api.Tests.Infrastructure;

/// <summary>Signals and exits of the processes the tests start (the service, worker harnesses).</summary>
internal static class ProcessControl
{
    /// <summary>Sends a POSIX signal (TERM as an orchestrator stops a container, KILL as a crash).</summary>
    public static void Signal(Process process, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public static async Task<bool> WaitForExitAsync(Process process, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
