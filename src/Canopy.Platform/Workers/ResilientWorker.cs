using Canopy.Platform.Observability;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Canopy.Platform.Workers;

/// <summary>
/// A background loop that survives its own failures: an exception in one iteration is logged
/// with its stack trace and counted, and the loop goes on after a growing, jittered backoff.
/// It stops only when the host stops (SIGTERM), after the current iteration.
/// </summary>
public abstract partial class ResilientWorker(ILogger logger, CanopyMetrics metrics, TimeProvider time) : BackgroundService
{
    /// <summary>Name in logs and metrics.</summary>
    protected abstract string Name { get; }

    /// <summary>Pause between successful iterations.</summary>
    protected virtual TimeSpan Interval => TimeSpan.FromSeconds(1);

    protected virtual TimeSpan FirstBackoff => TimeSpan.FromSeconds(1);

    protected virtual TimeSpan MaxBackoff => TimeSpan.FromMinutes(1);

    /// <summary>Failures since the last successful iteration.</summary>
    public int ConsecutiveFailures { get; private set; }

    protected abstract Task RunOnceAsync(CancellationToken stoppingToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan pause;
            try
            {
                using var activity = CanopyActivitySource.Instance.StartActivity($"worker {Name}");
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
                ConsecutiveFailures = 0;
                pause = Interval;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                ConsecutiveFailures++;
                pause = Backoff(ConsecutiveFailures);
                metrics.UnhandledException("worker:" + Name);
                LogFailed(logger, Name, ConsecutiveFailures, pause.TotalMilliseconds, ex);
            }

            try
            {
                await Task.Delay(pause, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>First backoff doubled per consecutive failure, capped, with ±20 % jitter.</summary>
    public TimeSpan Backoff(int failures) => RetryDelay.Exponential(failures, FirstBackoff, MaxBackoff);

    [LoggerMessage(Level = LogLevel.Error, Message = "Worker {Worker} failed ({Failures} in a row); retrying in {BackoffMs} ms")]
    private static partial void LogFailed(ILogger logger, string worker, int failures, double backoffMs, Exception exception);
}
