using System.Diagnostics;
using Canopy.Platform.Observability;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Canopy.Platform.Redis;

/// <summary>
/// The process-wide Redis multiplexer. It is created without aborting on a failed first
/// connect, so the service starts while Redis is down and reconnects when it comes back;
/// readiness reports the outage meanwhile.
/// </summary>
public sealed partial class RedisConnection : IDisposable
{
    private readonly Lazy<ConnectionMultiplexer> _multiplexer;
    private readonly ILogger<RedisConnection> _logger;
    private readonly CanopyMetrics _metrics;
    private readonly TimeSpan _timeout;

    public RedisConnection(IOptions<RedisOptions> options, ILogger<RedisConnection> logger, CanopyMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        _metrics = metrics;
        _timeout = TimeSpan.FromMilliseconds(options.Value.TimeoutMilliseconds);
        var configuration = ConfigurationOptions.Parse(options.Value.Configuration);
        configuration.AbortOnConnectFail = false;
        configuration.ConnectTimeout = options.Value.TimeoutMilliseconds;
        configuration.SyncTimeout = options.Value.TimeoutMilliseconds;
        configuration.ClientName ??= "canopy";
        _multiplexer = new Lazy<ConnectionMultiplexer>(() => Connect(configuration));
    }

    public IDatabase Database => _multiplexer.Value.GetDatabase();

    public bool IsConnected => _multiplexer.Value.IsConnected;

    /// <summary>
    /// Runs one Redis command (or Lua script) with a span and a latency measurement; every
    /// Redis call of Canopy goes through here so its latency is visible at /metrics.
    /// </summary>
    public async Task<T> ExecuteAsync<T>(string command, Func<IDatabase, Task<T>> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        using var activity = CanopyActivitySource.Instance.StartActivity("redis " + command, ActivityKind.Client);
        activity?.SetTag("db.system.name", "redis");
        activity?.SetTag("db.operation.name", command);
        var started = Stopwatch.GetTimestamp();
        var failed = false;
        try
        {
            // This client enforces its timeout on synchronous calls only: a stalled Redis must
            // not stall the request that waits on it.
            try
            {
                return await call(Database).WaitAsync(_timeout).ConfigureAwait(false);
            }
            catch (TimeoutException ex)
            {
                throw new RedisUnavailableException($"Redis did not answer {command} within {_timeout.TotalMilliseconds:F0} ms.", ex);
            }
        }
        catch (Exception ex)
        {
            failed = true;
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            throw;
        }
        finally
        {
            _metrics.RedisCommand(command, Stopwatch.GetElapsedTime(started), failed);
        }
    }

    public void Dispose()
    {
        if (_multiplexer.IsValueCreated)
        {
            _multiplexer.Value.Dispose();
        }
    }

    private ConnectionMultiplexer Connect(ConfigurationOptions configuration)
    {
        var multiplexer = ConnectionMultiplexer.Connect(configuration);
        multiplexer.ConnectionFailed += (_, e) => LogConnectionFailed(_logger, e.FailureType.ToString(), e.Exception);
        multiplexer.ConnectionRestored += (_, _) => LogConnectionRestored(_logger);
        if (!multiplexer.IsConnected)
        {
            LogStartedDisconnected(_logger);
        }

        return multiplexer;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Redis connection failed ({FailureType})")]
    private static partial void LogConnectionFailed(ILogger logger, string failureType, Exception? exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis connection restored")]
    private static partial void LogConnectionRestored(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is not reachable at start-up; the service runs and keeps reconnecting")]
    private static partial void LogStartedDisconnected(ILogger logger);
}

/// <summary>Redis did not answer in time (the client enforces no timeout on asynchronous calls).</summary>
public sealed class RedisUnavailableException : Exception
{
    public RedisUnavailableException()
    {
    }

    public RedisUnavailableException(string message)
        : base(message)
    {
    }

    public RedisUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Whether an exception means Redis cannot be reached or did not answer.</summary>
    public static bool Is(Exception exception) =>
        exception is RedisUnavailableException or RedisConnectionException or RedisTimeoutException
        || (exception is RedisServerException server && Unavailable.Any(p => server.Message.StartsWith(p, StringComparison.Ordinal)));

    // Server answers that mean "not now" (restarting, a replica after failover, out of memory,
    // busy with a script), as opposed to a mistake in the command.
    private static readonly string[] Unavailable = ["LOADING", "READONLY", "MASTERDOWN", "OOM", "BUSY", "TRYAGAIN", "CLUSTERDOWN"];
}
