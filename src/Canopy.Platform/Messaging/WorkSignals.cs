using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Canopy.Platform.Postgres;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Canopy.Platform.Messaging;

/// <summary>
/// Wakes workers as soon as work is committed: one connection LISTENs on <c>canopy_jobs</c>
/// and <c>canopy_outbox</c> (the triggers NOTIFY at commit). Waiting is always bounded by the
/// caller's poll interval, so a lost notification or a dropped connection only delays work.
/// </summary>
public sealed partial class WorkSignals(IOptions<PostgresOptions> postgres, ILogger<WorkSignals> logger) : BackgroundService
{
    // The listening connection lives for the process: it has a pool of its own, so it never
    // takes a connection from the pool that serves requests.
    private readonly NpgsqlDataSource _dataSource = new NpgsqlDataSourceBuilder(postgres.Value.ConnectionString)
    {
        Name = postgres.Value.PoolName + "_listen",
        ConnectionStringBuilder = { MaxPoolSize = 1, KeepAlive = 30 },
    }.Build();

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _jobs = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _outbox = new(0, 1);

    public async Task WaitForJobsAsync(string queue, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var signal = _jobs.GetOrAdd(queue, _ => new SemaphoreSlim(0, 1));
        await signal.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
    }

    public Task WaitForEventsAsync(TimeSpan timeout, CancellationToken cancellationToken) => _outbox.WaitAsync(timeout, cancellationToken);

    public override void Dispose()
    {
        _outbox.Dispose();
        _dataSource.Dispose();
        foreach (var signal in _jobs.Values)
        {
            signal.Dispose();
        }

        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _dataSource.OpenConnectionAsync(stoppingToken).ConfigureAwait(false);
                connection.Notification += (_, e) => Signal(e.Channel, e.Payload);
                await using (var listen = new NpgsqlCommand("LISTEN canopy_jobs; LISTEN canopy_outbox;", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken).ConfigureAwait(false);
                }

                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                LogListenFailed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private void Signal(string channel, string payload)
    {
        var signal = channel == "canopy_outbox" ? _outbox : _jobs.GetOrAdd(payload, _ => new SemaphoreSlim(0, 1));
        if (signal.CurrentCount == 0)
        {
            try
            {
                signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // already signalled
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "LISTEN connection lost; workers fall back to polling until it is back")]
    private static partial void LogListenFailed(ILogger logger, Exception exception);
}
