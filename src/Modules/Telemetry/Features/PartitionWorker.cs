using Canopy.Platform.Observability;
using Canopy.Platform.Postgres;
using Canopy.Platform.Workers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Canopy.Telemetry.Features;

/// <summary>
/// Keeps the readings' monthly partitions ahead of the clock (two months) and behind it to the
/// retention window, and drops whole partitions that fell out of it, with the rollups of the
/// same age. Creating and dropping partitions needs the table owner: the app role calls the two
/// SECURITY DEFINER functions of the migration, which do nothing else.
/// </summary>
internal sealed partial class PartitionWorker : ResilientWorker
{
    private static readonly TimeSpan Ahead = TimeSpan.FromDays(62);

    private readonly PostgresDataSources _dataSources;
    private readonly IOptions<TelemetryOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PartitionWorker> _logger;

    public PartitionWorker(PostgresDataSources dataSources, IOptions<TelemetryOptions> options, CanopyMetrics metrics, TimeProvider time, ILogger<PartitionWorker> logger)
        : base(logger, metrics, time)
    {
        _dataSources = dataSources;
        _options = options;
        _time = time;
        _logger = logger;
    }

    protected override string Name => "telemetry-partitions";

    protected override TimeSpan Interval => TimeSpan.FromMinutes(_options.Value.PartitionCheckMinutes);

    protected override Task RunOnceAsync(CancellationToken stoppingToken) => MaintainAsync(stoppingToken);

    /// <summary>Creates the missing partitions and drops the expired ones; answers the names dropped.</summary>
    public async Task<IReadOnlyList<string>> MaintainAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var horizon = now - TimeSpan.FromDays(_options.Value.RetentionDays);
        await using var tx = await PostgresTransaction.BeginAsync(_dataSources.Primary, null, cancellationToken).ConfigureAwait(false);
        await tx.EnterPlatformScopeAsync(cancellationToken).ConfigureAwait(false);
        await using var ensure = tx.Command("SELECT telemetry.ensure_partitions($1, $2)", horizon, now + Ahead);
        var created = (int)(await ensure.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        await using var drop = tx.Command("SELECT telemetry.drop_partitions_before($1)", horizon);
        var dropped = await PostgresTransaction.ReadAllAsync(drop, r => r.GetString(0), cancellationToken).ConfigureAwait(false);
        var rollups = await tx.ExecuteAsync("DELETE FROM telemetry.rollups WHERE bucket_start < $1", cancellationToken, horizon).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        if (created > 0 || dropped.Count > 0 || rollups > 0)
        {
            LogMaintained(_logger, created, dropped.Count, string.Join(", ", dropped), rollups, _options.Value.RetentionDays);
        }

        return dropped;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Telemetry partitions: {Created} created ahead, {Dropped} dropped ({Names}) and {Rollups} rollup(s) deleted past the {Days}-day retention")]
    private static partial void LogMaintained(ILogger logger, int created, int dropped, string names, int rollups, int days);
}
