using System.Text.Json;
using Canopy.Api.Tests.Fleet;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Api.Tests.Insights;
using Canopy.Api.Tests.Telemetry;
using Canopy.Platform.Messaging;
using Microsoft.Extensions.DependencyInjection;
using static Canopy.Api.Tests.Telemetry.TelemetryApi;

namespace Canopy.Api.Tests.Alerting;

/// <summary>
/// The feed's consumer group hands a batch its worker never finished to another worker. Serial
/// (<see cref="SerialTests"/>): the test starts an instance of every role with a Redis of its own.
/// </summary>
[Collection(SerialTests.Name)]
public sealed class FeedHandOverTests(TelemetryHost host) : IClassFixture<TelemetryHost>
{
    [Fact]
    public async Task Given_a_batch_taken_from_the_feed_by_a_worker_that_stopped_Then_another_worker_takes_it_over_after_its_idle_time_and_raises_the_alert_once()
    {
        var grower = await host.NewGrowerAsync();
        var (device, _) = await grower.DeviceAsync();
        var rule = await AlertFlowTests.RuleAsync(grower, new { kind = "device", id = device }, "co2_ppm", "gte", 1500, 0);
        // An instance with a Redis of its own, so that its feed holds this test's batch alone.
        using var redis = new DisposableRedis();
        await using var instance = new CanopyApiFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = redis.ConnectionString,
            ["Runtime:Role"] = "all",
            ["Alerting:FeedClaimIdleSeconds"] = "1",
        });
        instance.CreateClient().Dispose();
        var connection = instance.Services.GetRequiredService<Canopy.Platform.Redis.RedisConnection>();
        // (Until the worker's first round made it, the feed does not exist: XINFO answers "no such key".)
        await EventuallyAsync(async () =>
        {
            try
            {
                return (await connection.ExecuteAsync("XINFO", db => db.StreamGroupInfoAsync(ReadingFeed.Key))).Length == 1;
            }
            catch (StackExchange.Redis.RedisServerException)
            {
                return false;
            }
        }, "the instance's worker joined the feed's group");
        var t = AlertFlowTests.WholeSecond(DateTimeOffset.UtcNow.AddMinutes(-1));
        var data = JsonSerializer.Serialize(new
        {
            device_id = device, zone_id = grower.ZoneId, readings = new[] { new { metric = "co2_ppm", value = 1800.0, recorded_at = t } },
        });

        // A worker reads the batch and stops before it evaluates it: in one script, so that the
        // running worker cannot read it first.
        var taken = (string)(await connection.ExecuteAsync("EVAL", db => db.ScriptEvaluateAsync("""
            redis.call('XADD', KEYS[1], '*', ARGV[1], ARGV[2], ARGV[3], ARGV[4])
            local read = redis.call('XREADGROUP', 'GROUP', ARGV[5], 'stopped-worker', 'COUNT', 1, 'STREAMS', KEYS[1], '>')
            return read[1][2][1][1]
            """, [ReadingFeed.Key], [ReadingFeed.TenantField, grower.TenantId.ToString(), ReadingFeed.DataField, data, Canopy.Alerting.Features.FeedEvaluation.Group])))!;
        Assert.False(string.IsNullOrEmpty(taken), "the stopped worker holds the batch");

        await EventuallyAsync(async () => await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM alerting.alerts WHERE rule_id = $1", rule) == 1,
            "the running worker took the batch over and raised its alert");
        await EventuallyAsync(async () => (await connection.ExecuteAsync("XPENDING", db => db.StreamPendingAsync(ReadingFeed.Key, Canopy.Alerting.Features.FeedEvaluation.Group))).PendingMessageCount == 0,
            "the batch was acknowledged");
        var alert = await IdentityApi.ScalarAsync<Guid>("SELECT id FROM alerting.alerts WHERE rule_id = $1", rule);
        Assert.Equal(["alert.raised"], (await DeviceTests.OutboxAsync(alert)).Select(e => e.Type));
    }
}
