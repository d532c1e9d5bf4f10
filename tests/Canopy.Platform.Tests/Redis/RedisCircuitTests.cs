using System.Diagnostics.Metrics;
using Canopy.Platform.Observability;
using Canopy.Platform.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Canopy.Platform.Tests.Redis;

/// <summary>The breaker alone: the calls never reach a server (they throw before), so no Redis is needed.</summary>
public sealed class RedisCircuitTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly CanopyMetrics _metrics;
    private readonly RedisConnection _redis;

    public RedisCircuitTests()
    {
        _metrics = new CanopyMetrics(_services.GetRequiredService<IMeterFactory>());
        // Nothing listens on port 1; the multiplexer starts disconnected and is never used.
        _redis = new RedisConnection(
            Options.Create(new RedisOptions { Configuration = "127.0.0.1:1", TimeoutMilliseconds = 100, BreakMinimumCalls = 4, BreakSeconds = 30 }),
            NullLogger<RedisConnection>.Instance,
            _metrics);
    }

    [Fact]
    public async Task Given_fewer_failing_calls_than_the_minimum_Then_every_call_is_still_sent_and_the_next_one_is_refused_at_once()
    {
        var sent = 0;
        Task<bool> Timeout(IDatabase _)
        {
            sent++;
            throw new RedisTimeoutException(CommandFlags.None, "Timeout awaiting response", CommandStatus.Sent);
        }

        for (var i = 0; i < 4; i++)
        {
            await Assert.ThrowsAsync<RedisTimeoutException>(() => _redis.ExecuteAsync("GET", Timeout));
        }

        var refused = await Assert.ThrowsAsync<RedisUnavailableException>(() => _redis.ExecuteAsync("GET", Timeout));

        Assert.Equal(4, sent);
        Assert.True(RedisUnavailableException.Is(refused));
    }

    [Fact]
    public async Task Given_failures_that_are_not_about_redis_Then_the_circuit_stays_closed()
    {
        var sent = 0;
        for (var i = 0; i < 6; i++)
        {
            await Assert.ThrowsAsync<RedisServerException>(() => _redis.ExecuteAsync<bool>("XGROUP", _ =>
            {
                sent++;
                throw new RedisServerException(RedisErrorKind.Unknown, CommandFlags.None, "BUSYGROUP Consumer Group name already exists");
            }));
        }

        Assert.Equal(6, sent);
    }

    [Theory]
    [InlineData(RedisErrorKind.Loading, true)]
    [InlineData(RedisErrorKind.ReadOnly, true)]
    [InlineData(RedisErrorKind.Busy, true)]
    [InlineData(RedisErrorKind.OutOfMemory, true)]
    [InlineData(RedisErrorKind.MaxClients, true)]
    [InlineData(RedisErrorKind.Unknown, false)]
    [InlineData(RedisErrorKind.WrongType, false)]
    [InlineData(RedisErrorKind.NoScript, false)]
    [InlineData(RedisErrorKind.UnknownError, false)]
    public void Given_a_server_error_as_the_client_classifies_it_Then_only_a_not_now_answer_means_redis_is_unavailable(RedisErrorKind kind, bool unavailable)
    {
        Assert.Equal(unavailable, RedisUnavailableException.Is(new RedisServerException(kind, CommandFlags.None, kind.ToString())));
    }

    public void Dispose()
    {
        _redis.Dispose();
        _metrics.Dispose();
        _services.Dispose();
    }
}
