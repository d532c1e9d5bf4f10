using System.Diagnostics;
using Canopy.Platform.Observability;
using Canopy.Platform.Postgres;
using Canopy.Platform.Redis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Canopy.Platform.Health;

/// <summary>
/// Checks what the service needs to take traffic: a PostgreSQL round trip, a Redis round trip
/// and the connection pool's headroom; and, when a streaming replica is configured, its round
/// trip and lag, which only degrade readiness (warn): reports can be read from the primary.
/// Checks run concurrently, each bounded by the configured timeout, so readiness answers
/// quickly even when a dependency hangs.
/// </summary>
public sealed partial class ReadinessProbe(
    NpgsqlDataSource dataSource,
    PostgresDataSources dataSources,
    RedisConnection redis,
    PostgresPoolMonitor pool,
    IOptions<HealthOptions> options,
    IOptions<PostgresOptions> postgresOptions,
    TimeProvider time,
    CanopyMetrics metrics,
    ILogger<ReadinessProbe> logger) : IDisposable
{
    public const string PostgresResponseTime = "postgres:responseTime";
    public const string RedisResponseTime = "redis:responseTime";
    public const string PostgresConnections = "postgres:connections";
    public const string ReplicaResponseTime = "postgres-replica:responseTime";
    public const string ReplicaLag = "postgres-replica:lag";

    private readonly HealthOptions _options = options.Value;
    private readonly SemaphoreSlim _singleFlight = new(1, 1);
    private (ReadinessReport Report, long At)? _last;

    /// <summary>The current report, or the last one when it is younger than the cache window.</summary>
    public async Task<ReadinessReport> CheckAsync(CancellationToken cancellationToken)
    {
        if (Fresh() is { } cached)
        {
            return cached;
        }

        await _singleFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Fresh() is { } justChecked)
            {
                return justChecked;
            }

            var report = await CheckNowAsync(cancellationToken).ConfigureAwait(false);
            _last = (report, time.GetTimestamp());
            return report;
        }
        finally
        {
            _singleFlight.Release();
        }
    }

    public void Dispose() => _singleFlight.Dispose();

    private ReadinessReport? Fresh() =>
        _options.CacheMilliseconds > 0 && _last is { } last && time.GetElapsedTime(last.At).TotalMilliseconds < _options.CacheMilliseconds
            ? last.Report
            : null;

    private async Task<ReadinessReport> CheckNowAsync(CancellationToken cancellationToken)
    {
        var postgres = TimeAsync(PostgresResponseTime, "PostgreSQL", PingPostgresAsync, cancellationToken);
        var redisCheck = TimeAsync(RedisResponseTime, "Redis", PingRedisAsync, cancellationToken);
        var replica = ReplicaAsync(cancellationToken);
        var results = (await Task.WhenAll(postgres, redisCheck).ConfigureAwait(false)).Concat(await replica.ConfigureAwait(false)).ToList();
        var poolCheck = PoolCheck.Grade(
            PostgresConnections,
            pool.Read(postgresOptions.Value.PoolName),
            _options.PoolWarnRatio,
            time.GetUtcNow());

        var report = new ReadinessReport([.. results, poolCheck]);
        foreach (var failing in report.Failing)
        {
            LogCheckFailed(logger, failing.Name, failing.Output ?? "");
        }

        return report;
    }

    private async Task<HealthCheckOutcome> TimeAsync(
        string name, string component, Func<CancellationToken, Task> ping, CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromMilliseconds(_options.CheckTimeoutMilliseconds);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var started = Stopwatch.GetTimestamp();
        var attempt = ping(cts.Token);
        try
        {
            // The check's own bound, shorter than the clients' timeouts (Redis ignores cancellation).
            await attempt.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var slow = elapsed > _options.SlowResponseMilliseconds;
            return new HealthCheckOutcome(
                name,
                "datastore",
                slow ? HealthState.Warn : HealthState.Pass,
                time.GetUtcNow(),
                Math.Round(elapsed, 3),
                "ms",
                slow ? $"{component} answered in {elapsed:F0} ms, above {_options.SlowResponseMilliseconds} ms." : null);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Observe(attempt);
            return Failed(name, $"{component} did not answer within {_options.CheckTimeoutMilliseconds} ms.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The exception can name hosts and credentials' users: it goes to the log only.
            LogCheckError(logger, name, ex);
            return Failed(name, $"{component} is not reachable.");
        }
    }

    /// <summary>The replica's round trip and lag; none when no replica is configured (its reads go to the primary).</summary>
    private async Task<IReadOnlyList<HealthCheckOutcome>> ReplicaAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(postgresOptions.Value.ReplicaConnectionString))
        {
            return [];
        }

        double? lagSeconds = null;
        var reach = await TimeAsync(ReplicaResponseTime, "The PostgreSQL replica", async token => lagSeconds = await ReplicaLagAsync(token).ConfigureAwait(false), cancellationToken)
            .ConfigureAwait(false);
        metrics.ReplicaLag(reach.Status == HealthState.Fail ? null : lagSeconds);
        if (reach.Status == HealthState.Fail)
        {
            // Degraded, not down: report reads fall back to the primary.
            return [reach with { Status = HealthState.Warn, Output = reach.Output + " Report reads fall back to the primary." }];
        }

        var lagging = lagSeconds > _options.ReplicaLagWarnSeconds;
        return
        [
            reach,
            new HealthCheckOutcome(ReplicaLag, "datastore", lagging ? HealthState.Warn : HealthState.Pass, time.GetUtcNow(), Math.Round(lagSeconds ?? 0, 3), "s",
                lagging ? $"The replica is {lagSeconds:F1} s behind the primary, above {_options.ReplicaLagWarnSeconds} s." : null),
        ];
    }

    /// <summary>How far the replica's replay is behind what it has received: 0 when it has replayed everything.</summary>
    private async Task<double> ReplicaLagAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSources.Replica.CreateCommand("""
            SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                        ELSE COALESCE(EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8
            """);
        return (double)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private HealthCheckOutcome Failed(string name, string output) =>
        new(name, "datastore", HealthState.Fail, time.GetUtcNow(), Output: output);

    private async Task PingPostgresAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT 1");
        _ = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    private Task PingRedisAsync(CancellationToken cancellationToken) => redis.ExecuteAsync("PING", db => db.PingAsync());

    private static void Observe(Task abandoned) =>
        abandoned.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Readiness check {Check} failed: {Output}")]
    private static partial void LogCheckFailed(ILogger logger, string check, string output);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Readiness check {Check} raised an error")]
    private static partial void LogCheckError(ILogger logger, string check, Exception exception);
}
