using System.Diagnostics;
using Canopy.Platform.Observability;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using StackExchange.Redis;

namespace Canopy.Platform.Redis;

/// <summary>
/// The process-wide Redis multiplexer, behind a circuit breaker. The multiplexer is created
/// without aborting on a failed first connect, so the service starts while Redis is down and
/// reconnects when it comes back; while it is disconnected, commands fail at once instead of
/// queueing. When calls keep failing (Redis stopped, stalled or refusing), the breaker opens and
/// every call fails at once for <see cref="RedisOptions.BreakSeconds"/>, so the callers'
/// fallbacks (per-instance rate limits, the PostgreSQL idempotency guard and revocation check)
/// answer without waiting a timeout each; then one call tests Redis again.
/// </summary>
public sealed partial class RedisConnection : IDisposable
{
    private readonly Lazy<ConnectionMultiplexer> _multiplexer;
    private readonly ResiliencePipeline _breaker;
    private readonly ILogger<RedisConnection> _logger;
    private readonly CanopyMetrics _metrics;

    public RedisConnection(IOptions<RedisOptions> options, ILogger<RedisConnection> logger, CanopyMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        _metrics = metrics;
        var settings = options.Value;
        var configuration = ConfigurationOptions.Parse(settings.Configuration);
        configuration.AbortOnConnectFail = false;
        configuration.ConnectTimeout = settings.TimeoutMilliseconds;
        configuration.SyncTimeout = settings.TimeoutMilliseconds;
        configuration.AsyncTimeout = settings.TimeoutMilliseconds;
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ClientName ??= "canopy";
        _multiplexer = new Lazy<ConnectionMultiplexer>(() => Connect(configuration));
        // The wall clock, never the service's TimeProvider: a business clock moved by tests must
        // not freeze the breaker's window or open its circuit for good.
        _breaker = new ResiliencePipelineBuilder { TimeProvider = TimeProvider.System }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = settings.BreakMinimumCalls,
                SamplingDuration = TimeSpan.FromSeconds(10),
                BreakDuration = TimeSpan.FromSeconds(settings.BreakSeconds),
                ShouldHandle = new PredicateBuilder().Handle<Exception>(RedisUnavailableException.Is),
                OnOpened = args =>
                {
                    LogBreakerOpened(_logger, args.BreakDuration.TotalSeconds, args.Outcome.Exception);
                    _metrics.RedisBreakerOpened();
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    LogBreakerClosed(_logger);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    public ConnectionMultiplexer Multiplexer => _multiplexer.Value;

    /// <summary>
    /// Raised when a lost connection to Redis is back. The Redis on the other end may have lost
    /// recent writes meanwhile (a restart from its last snapshot, a failover to a replica that lagged).
    /// </summary>
    public event EventHandler? Reconnected;

    public IDatabase Database => _multiplexer.Value.GetDatabase();

    public bool IsConnected => _multiplexer.Value.IsConnected;

    /// <summary>
    /// Runs one Redis command (or Lua script) through the breaker, measuring its latency; every
    /// Redis call of Canopy goes through here so its latency is visible at /metrics. Throws an
    /// exception for which <see cref="RedisUnavailableException.Is"/> holds when Redis cannot answer.
    /// </summary>
    public async Task<T> ExecuteAsync<T>(string command, Func<IDatabase, Task<T>> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        var started = Stopwatch.GetTimestamp();
        var outcome = "ok";
        try
        {
            return await _breaker.ExecuteAsync(static async (state, _) => await state.call(state.Database).ConfigureAwait(false), (call, Database))
                .ConfigureAwait(false);
        }
        catch (BrokenCircuitException ex)
        {
            outcome = "circuit_open";
            throw new RedisUnavailableException($"Redis is failing; {command} was not sent while the circuit is open.", ex);
        }
        catch
        {
            outcome = "error";
            throw;
        }
        finally
        {
            _metrics.RedisCommand(command, Stopwatch.GetElapsedTime(started), outcome);
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
        multiplexer.ConnectionRestored += (_, _) =>
        {
            LogConnectionRestored(_logger);
            Reconnected?.Invoke(this, EventArgs.Empty);
        };
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Redis keeps failing: calls are skipped for {break_seconds} s, fallbacks answer meanwhile")]
    private static partial void LogBreakerOpened(ILogger logger, double break_seconds, Exception? exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis answers again: the circuit is closed")]
    private static partial void LogBreakerClosed(ILogger logger);
}

/// <summary>Redis cannot answer now: it is unreachable, stalled, refusing, or its circuit is open.</summary>
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
        || (exception is RedisServerException server && server.Kind is
            // Server answers that mean "not now" (restarting, a replica after failover, out of
            // memory or clients, busy with a script, writes refused), as the client classifies
            // them, as opposed to a mistake in the command (BUSYGROUP, WRONGTYPE, NOSCRIPT…).
            RedisErrorKind.Loading or RedisErrorKind.ReadOnly or RedisErrorKind.MasterDown or RedisErrorKind.OutOfMemory
            or RedisErrorKind.Busy or RedisErrorKind.TryAgain or RedisErrorKind.ClusterDown or RedisErrorKind.MaxClients
            or RedisErrorKind.Misconfigured or RedisErrorKind.NoReplicas);
}
