using Canopy.Platform.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Canopy.Api.Tests.Messaging;

[Collection("messaging")]
public sealed class OutboxTests
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Given_the_change_rolls_back_Then_its_event_is_never_dispatched()
    {
        var type = $"test.rollback_{_suffix}";
        await using var host = await MessagingHost.StartAsync(s => s.AddSingleton<IEventSubscriber>(new RecordingSubscriber($"sub-{_suffix}", type)));

        var lost = await host.InTransactionAsync((c, t) => host.Writer.AppendEventAsync(c, t, type, 1, new { seq = 1 }, null, null, CancellationToken.None), commit: false);
        var kept = await host.InTransactionAsync((c, t) => host.Writer.AppendEventAsync(c, t, type, 1, new { seq = 2 }, null, null, CancellationToken.None));

        await host.WaitUntilAsync(async () => await host.CountAsync("SELECT count(*) FROM kernel_tests.event_effects WHERE event_id = $1", kept) == 1, "the committed event is handled");
        await Task.Delay(300);
        Assert.Equal(0, await host.CountAsync("SELECT count(*) FROM kernel_tests.event_effects WHERE event_id = $1", lost));
        Assert.Equal(0, await host.CountAsync("SELECT count(*) FROM platform.outbox WHERE id = $1", lost));
    }

    [Fact]
    public async Task Given_events_of_one_aggregate_Then_each_subscriber_handles_them_in_order_and_a_failing_one_does_not_block_the_other()
    {
        var type = $"test.ordered_{_suffix}";
        var good = $"good-{_suffix}";
        var bad = $"bad-{_suffix}";
        await using var host = await MessagingHost.StartAsync(s =>
        {
            s.AddSingleton<IEventSubscriber>(new RecordingSubscriber(good, type));
            s.AddSingleton<IEventSubscriber>(new RecordingSubscriber(bad, type, _ => new InvalidOperationException("always down")));
        });
        var aggregate = Guid.CreateVersion7();

        await host.InTransactionAsync(async (c, t) =>
        {
            for (var i = 1; i <= 20; i++)
            {
                await host.Writer.AppendEventAsync(c, t, type, 1, new { seq = i }, null, aggregate, CancellationToken.None);
            }

            return 0;
        });

        await host.WaitUntilAsync(async () => await host.CountAsync("SELECT count(*) FROM kernel_tests.event_effects WHERE subscriber = $1", good) == 20, "the good subscriber handled all 20");
        var order = await host.ScalarAsync<int[]>("SELECT array_agg(seq ORDER BY id) FROM kernel_tests.event_effects WHERE subscriber = $1", good);
        Assert.Equal(Enumerable.Range(1, 20), order);
        await host.WaitUntilAsync(async () => await host.CountAsync(
            "SELECT count(*) FROM platform.dead_letters WHERE queue = $1 AND owner = 'messaging-tests' AND source = 'event'", "events:" + bad) >= 1,
            "the failing subscriber's first event is a dead letter", seconds: 30);
        Assert.Equal(0, await host.CountAsync("SELECT count(*) FROM kernel_tests.event_effects WHERE subscriber = $1", bad));
    }

    [Fact]
    public async Task Given_an_event_delivered_again_Then_the_inbox_prevents_a_second_effect()
    {
        var type = $"test.redeliver_{_suffix}";
        var name = $"once-{_suffix}";
        await using var host = await MessagingHost.StartAsync(s => s.AddSingleton<IEventSubscriber>(new RecordingSubscriber(name, type)));
        var id = await host.InTransactionAsync((c, t) => host.Writer.AppendEventAsync(c, t, type, 1, new { seq = 1 }, null, null, CancellationToken.None));
        await host.WaitUntilAsync(async () => await host.CountAsync("SELECT count(*) FROM platform.outbox_deliveries WHERE event_id = $1 AND status = 'DONE'", id) == 1, "delivered");

        // As if the relay crashed after the handler committed but the delivery was handed out again.
        await host.InTransactionAsync(async (c, t) =>
        {
            await using var reset = new NpgsqlCommand("UPDATE platform.outbox_deliveries SET status = 'PENDING', done_at = NULL WHERE event_id = $1", c, t);
            reset.Parameters.Add(new NpgsqlParameter { Value = id });
            return await reset.ExecuteNonQueryAsync();
        });

        await host.WaitUntilAsync(async () => await host.CountAsync("SELECT count(*) FROM platform.outbox_deliveries WHERE event_id = $1 AND status = 'DONE'", id) == 1, "delivered again");
        Assert.Equal(1, await host.CountAsync("SELECT count(*) FROM kernel_tests.event_effects WHERE event_id = $1", id));
    }

    [Fact]
    public async Task Given_an_event_its_subscriber_cannot_read_Then_it_is_quarantined_at_once_without_retries()
    {
        var type = $"test.poison_{_suffix}";
        var name = $"strict-{_suffix}";
        await using var host = await MessagingHost.StartAsync(s => s.AddSingleton<IEventSubscriber>(
            new RecordingSubscriber(name, type, e => e.Payload.TryGetProperty("seq", out _) ? null : new System.Text.Json.JsonException("missing seq"))));

        var id = await host.InTransactionAsync((c, t) => host.Writer.AppendEventAsync(c, t, type, 1, new { unexpected = true }, null, null, CancellationToken.None));

        await host.WaitUntilAsync(async () => await host.CountAsync(
            "SELECT count(*) FROM platform.dead_letters WHERE source_id = platform.outbox_delivery_id($1, $2) AND status = 'QUARANTINED' AND triage = 'poison'", id, name) == 1,
            "the poison event is quarantined");
        Assert.Equal(1, await host.ScalarAsync<int>("SELECT attempts FROM platform.outbox_deliveries WHERE event_id = $1", id));
        Assert.Equal("DEAD", await host.ScalarAsync<string>("SELECT status FROM platform.outbox_deliveries WHERE event_id = $1", id));
    }
}
