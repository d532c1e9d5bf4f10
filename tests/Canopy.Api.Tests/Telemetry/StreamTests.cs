using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Telemetry.Features;
using Microsoft.Extensions.DependencyInjection;
using static Canopy.Api.Tests.Telemetry.TelemetryApi;

namespace Canopy.Api.Tests.Telemetry;

/// <remarks>
/// The stream clients talk to hosts on real Kestrel (loopback): an in-memory test server has no
/// socket, so neither back-pressure nor a cut connection would be real.
/// </remarks>
public sealed class StreamTests(TelemetryHost host) : IClassFixture<TelemetryHost>
{
    private static CanopyApiFactory OnKestrel(Dictionary<string, string?>? settings = null)
    {
        var factory = new CanopyApiFactory(settings);
        factory.UseKestrel(0);
        factory.StartServer();
        return factory;
    }

    [Fact]
    public async Task Given_a_zone_stream_on_one_instance_Then_a_batch_ingested_on_another_reaches_it_with_an_id_and_the_readings()
    {
        await using var other = OnKestrel();
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        await using var stream = await SseStream.OpenAsync(other.CreateClient(), $"/api/v1/streams/telemetry?zone_id={grower.ZoneId}", grower.OwnerToken);

        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("no-store", stream.Response.Headers.CacheControl!.ToString());
        Assert.Equal("3000", (await stream.NextAsync()).Retry);
        var at = DateTimeOffset.UtcNow.AddSeconds(-5);
        await CountsAsync(await device.SendAsync(Reading("temperature_c", 23.5, at), Reading("humidity_pct", 61, at)));
        var received = await stream.NextAsync();

        Assert.Equal("readings", received.Name);
        Assert.Matches("^[0-9]+-[0-9]+$", received.Id);
        var data = JsonDocument.Parse(received.Data!).RootElement;
        Assert.Equal(device.DeviceId, data.GetProperty("device_id").GetGuid());
        Assert.Equal(grower.ZoneId, data.GetProperty("zone_id").GetGuid());
        Assert.Equal(["temperature_c", "humidity_pct"], data.GetProperty("readings").EnumerateArray().Select(r => r.GetProperty("metric").GetString()).Order().Reverse());
    }

    [Fact]
    public async Task Given_a_client_that_reconnects_with_last_event_id_Then_it_gets_exactly_the_events_it_missed_in_order_and_then_live_ones()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        var path = $"/api/v1/streams/telemetry?device_id={device.DeviceId}";
        await using var server = OnKestrel();
        var at = DateTimeOffset.UtcNow.AddMinutes(-30);
        string lastSeen;
        await using (var first = await SseStream.OpenAsync(server.CreateClient(), path, grower.OwnerToken))
        {
            await first.NextAsync();
            await CountsAsync(await device.SendAsync(Reading("co2_ppm", 600, at)));
            lastSeen = (await first.NextAsync()).Id!;
        }

        await CountsAsync(await device.SendAsync(Reading("co2_ppm", 610, at.AddSeconds(1))));
        await CountsAsync(await device.SendAsync(Reading("co2_ppm", 620, at.AddSeconds(2))));
        await using var resumed = await SseStream.OpenAsync(server.CreateClient(), path, grower.OwnerToken, lastSeen);
        await resumed.NextAsync();
        var missed = new[] { await resumed.NextAsync(), await resumed.NextAsync() };
        await CountsAsync(await device.SendAsync(Reading("co2_ppm", 630, at.AddSeconds(3))));
        var live = await resumed.NextAsync();

        Assert.Equal([610.0, 620.0, 630.0], missed.Append(live).Select(e => JsonDocument.Parse(e.Data!).RootElement.GetProperty("readings")[0].GetProperty("value").GetDouble()));
        Assert.All(missed.Append(live), e => Assert.Equal("readings", e.Name));
        Assert.True(Canopy.Telemetry.Streaming.EntryId.TryParse(lastSeen, out var seen) && Canopy.Telemetry.Streaming.EntryId.TryParse(missed[0].Id, out var firstMissed)
            && firstMissed.CompareTo(seen) > 0, $"the first missed event {missed[0].Id} comes after {lastSeen}");
    }

    [Fact]
    public async Task Given_a_last_event_id_older_than_the_replay_buffer_Then_the_client_is_told_to_refetch_instead_of_a_silent_gap()
    {
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        await CountsAsync(await device.SendAsync(Reading("temperature_c", 20, DateTimeOffset.UtcNow.AddMinutes(-1))));

        await using var server = OnKestrel();
        await using var stale = await SseStream.OpenAsync(server.CreateClient(), $"/api/v1/streams/telemetry?device_id={device.DeviceId}", grower.OwnerToken, "1-0");
        await stale.NextAsync();
        var told = await stale.NextAsync();

        Assert.Equal("refetch", told.Name);
        Assert.Matches("^[0-9]+-[0-9]+$", told.Id);
        Assert.Equal("replay_unavailable", JsonDocument.Parse(told.Data!).RootElement.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Given_a_quiet_stream_Then_a_keepalive_comment_arrives_every_interval()
    {
        await using var quick = OnKestrel(new() { ["Telemetry:StreamKeepAliveSeconds"] = "1" });
        var grower = await host.NewGrowerAsync();

        await using var stream = await SseStream.OpenAsync(quick.CreateClient(), $"/api/v1/streams/telemetry?zone_id={grower.ZoneId}", grower.OwnerToken);
        await stream.NextAsync();
        var comments = new[] { await stream.NextAsync(TimeSpan.FromSeconds(5)), await stream.NextAsync(TimeSpan.FromSeconds(5)) };

        Assert.All(comments, c => Assert.Equal("keepalive", c.Comment));
    }

    [Fact]
    public async Task Given_a_client_that_stops_reading_Then_it_is_disconnected_once_its_buffer_fills_and_the_instance_keeps_no_subscriber()
    {
        await using var strict = OnKestrel(new()
        {
            ["Telemetry:StreamClientBuffer"] = "4",
            ["Telemetry:StreamCloseGraceSeconds"] = "1",
        });
        var metrics = strict.Services.GetRequiredService<TelemetryMetrics>();
        var grower = await host.NewGrowerAsync();
        var device = await grower.SenderAsync();
        await using var stalled = await SseStream.OpenAsync(strict.CreateClient(), $"/api/v1/streams/telemetry?device_id={device.DeviceId}", grower.OwnerToken);
        await EventuallyAsync(() => Task.FromResult(metrics.Subscribers == 1), "the client is subscribed");
        var start = DateTimeOffset.UtcNow.AddDays(-3);

        // Far more than the 4-event buffer and the loopback socket's buffers hold (megabytes); the client reads nothing meanwhile.
        var sent = 0;
        for (; sent < 400 && metrics.Subscribers > 0; sent++)
        {
            await CountsAsync(await device.SendAsync(Enumerable.Range(0, 500).Select(i => Reading("temperature_c", 20, start.AddSeconds(sent * 500 + i))).ToArray()));
        }

        await EventuallyAsync(() => Task.FromResult(metrics.Subscribers == 0), "the slow client is dropped");
        var rest = await stalled.DrainAsync(TimeSpan.FromSeconds(10));
        Assert.True(rest.Ended, "the stream ends instead of staying open");
        Assert.True(rest.Events.Count(e => e.Name == "readings") < sent, $"{rest.Events.Count} of {sent} events were kept for a client that did not read");
        if (rest.Events.LastOrDefault(e => e.Name is not null) is { Name: "disconnect" } notice)
        {
            Assert.Equal("slow_consumer", JsonDocument.Parse(notice.Data!).RootElement.GetProperty("reason").GetString());
        }
    }
}

/// <summary>One server-sent event or comment as a client parses it (WHATWG).</summary>
internal sealed record SseEvent(string? Id, string? Name, string? Data, string? Retry, string? Comment);

/// <summary>A client of a text/event-stream, reading one event at a time.</summary>
internal sealed class SseStream : IAsyncDisposable
{
    private readonly StreamReader _reader;
    private readonly HttpClient _client;

    private SseStream(HttpClient client, HttpResponseMessage response, StreamReader reader)
    {
        _client = client;
        Response = response;
        _reader = reader;
    }

    public HttpResponseMessage Response { get; }

    public static async Task<SseStream> OpenAsync(HttpClient client, string path, string token, string? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            // Read only a refusal whole: a stream's body never ends.
            Assert.Fail($"Expected 200, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return new SseStream(client, response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    /// <summary>The next event or comment, failing the test if none comes in time.</summary>
    public async Task<SseEvent> NextAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        return await ReadEventAsync(cancel.Token) ?? throw new InvalidOperationException("The stream ended.");
    }

    /// <summary>Everything until the stream ends or the time runs out.</summary>
    public async Task<(bool Ended, List<SseEvent> Events)> DrainAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var events = new List<SseEvent>();
        try
        {
            while (await ReadEventAsync(cancel.Token) is { } next)
            {
                events.Add(next);
            }

            return (true, events);
        }
        catch (OperationCanceledException)
        {
            return (false, events);
        }
        catch (IOException)
        {
            return (true, events); // the service cut the connection
        }
    }

    private async Task<SseEvent?> ReadEventAsync(CancellationToken cancellationToken)
    {
        string? id = null, name = null, data = null, retry = null, comment = null;
        while (await _reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (id is not null || name is not null || data is not null || retry is not null || comment is not null)
                {
                    return new SseEvent(id, name, data, retry, comment);
                }

                continue;
            }

            if (line.StartsWith(':'))
            {
                comment = line[1..].Trim();
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": name = value; break;
                case "data": data = data is null ? value : data + "\n" + value; break;
                case "retry": retry = value; break;
            }
        }

        return null;
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        Response.Dispose();
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
