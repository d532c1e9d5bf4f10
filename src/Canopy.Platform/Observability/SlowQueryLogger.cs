using System.Diagnostics;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Canopy.Platform.Observability;

public sealed class SlowQueryOptions
{
    public const string Section = "Postgres";

    /// <summary>Statements slower than this are logged as warnings.</summary>
    [Range(1, 600_000)]
    public int SlowQueryMilliseconds { get; set; } = 200;
}

/// <summary>
/// Watches every SQL statement Npgsql runs (its "Npgsql" activity source, whatever the caller:
/// EF Core, Dapper or raw commands) and logs those slower than the threshold as WARN with the
/// parameterised text; parameter values are never part of it.
/// </summary>
public sealed partial class SlowQueryLogger : IHostedService, IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ILogger<SlowQueryLogger> _logger;
    private readonly CanopyMetrics _metrics;
    private readonly TimeSpan _threshold;

    public SlowQueryLogger(IOptions<SlowQueryOptions> options, ILogger<SlowQueryLogger> logger, CanopyMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        _metrics = metrics;
        _threshold = TimeSpan.FromMilliseconds(options.Value.SlowQueryMilliseconds);
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = OnStopped,
        };
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        ActivitySource.AddActivityListener(_listener);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _listener.Dispose();

    private void OnStopped(Activity activity)
    {
        if (activity.Duration < _threshold || activity.GetTagItem("db.query.text") is not string sql)
        {
            return;
        }

        _metrics.SlowQuery();
        LogSlow(_logger, Math.Round(activity.Duration.TotalMilliseconds, 1), sql, _threshold.TotalMilliseconds);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Slow SQL ({duration_ms} ms, threshold {threshold_ms} ms): {sql}")]
    private static partial void LogSlow(ILogger logger, double duration_ms, string sql, double threshold_ms);
}
