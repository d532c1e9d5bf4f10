using System.Text;
using System.Text.Json;
using Canopy.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Canopy.Telemetry.Streaming;

/// <summary>
/// Serves one client a text/event-stream (WHATWG server-sent events): <c>retry:</c> once, the
/// events it missed since Last-Event-ID (or a <c>refetch</c> event when they are gone), then live
/// events with a <c>: keepalive</c> comment whenever nothing was sent for the keep-alive interval.
/// A client closed by the service (too slow, shutdown) gets a final <c>disconnect</c> event; if
/// it does not take it within the grace period the connection is cut.
/// </summary>
internal sealed class EventStream(LiveReadings live, IOptions<TelemetryOptions> options, IHostApplicationLifetime lifetime, Features.TelemetryMetrics metrics)
{
    private static readonly byte[] KeepAlive = Encoding.UTF8.GetBytes(": keepalive\n\n");

    public async Task ServeAsync(HttpContext http, string key, string? lastEventId)
    {
        ArgumentNullException.ThrowIfNull(http);
        var settings = options.Value;
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Accel-Buffering"] = "no";
        http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();

        using var client = new StreamClient(settings.StreamClientBuffer);
        await live.JoinAsync(key, client).ConfigureAwait(false);
        using var stopping = lifetime.ApplicationStopping.Register(() => client.Close(CloseReasons.ShuttingDown));
        // A client closed while a write to it is stuck (it stopped reading) gets the grace period, then the cut.
        using var grace = new CancellationTokenSource();
        using var cut = grace.Token.Register(http.Abort);
        using var closing = client.Closed.Register(() => grace.CancelAfter(TimeSpan.FromSeconds(settings.StreamCloseGraceSeconds)));
        var aborted = http.RequestAborted;
        try
        {
            await WriteAsync(response, $"retry: {settings.StreamRetryMilliseconds}\n\n", aborted).ConfigureAwait(false);
            var lastId = lastEventId;
            if (lastEventId is not null)
            {
                var missed = await live.ReplayAsync(key, lastEventId).ConfigureAwait(false);
                if (missed is null)
                {
                    lastId = await live.LatestIdAsync(key).ConfigureAwait(false) ?? lastEventId;
                    await WriteEventAsync(response, new StreamEvent(lastId, "refetch", Notice(CloseReasons.ReplayUnavailable,
                        "Readings after your Last-Event-ID are no longer in the replay buffer. Fetch them with listReadings, then follow the events after this one.")), aborted).ConfigureAwait(false);
                }
                else
                {
                    foreach (var streamEvent in missed)
                    {
                        await WriteEventAsync(response, streamEvent, aborted).ConfigureAwait(false);
                        lastId = streamEvent.Id;
                    }
                }
            }

            await response.Body.FlushAsync(aborted).ConfigureAwait(false);
            lastId = await PumpAsync(response, client, lastId, TimeSpan.FromSeconds(settings.StreamKeepAliveSeconds), aborted).ConfigureAwait(false);
            if (client.CloseReason is { } reason)
            {
                metrics.StreamClosed(reason);
                await WriteEventAsync(response, new StreamEvent(lastId ?? "0-0", "disconnect", Notice(reason, Explain(reason))), aborted).ConfigureAwait(false);
                await response.Body.FlushAsync(aborted).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException || aborted.IsCancellationRequested)
        {
            // The client went away, or was cut after its grace period: nothing more to send.
        }
        finally
        {
            live.Leave(key, client);
            client.Close(CloseReasons.ShuttingDown);
        }
    }

    /// <summary>Writes buffered events until the client is closed or goes away; answers the id of the last one written.</summary>
    private static async Task<string?> PumpAsync(HttpResponse response, StreamClient client, string? lastId, TimeSpan keepAlive, CancellationToken aborted)
    {
        while (!aborted.IsCancellationRequested)
        {
            bool more;
            using (var quiet = CancellationTokenSource.CreateLinkedTokenSource(aborted))
            {
                quiet.CancelAfter(keepAlive);
                try
                {
                    more = await client.Events.WaitToReadAsync(quiet.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                {
                    await response.Body.WriteAsync(KeepAlive, aborted).ConfigureAwait(false);
                    await response.Body.FlushAsync(aborted).ConfigureAwait(false);
                    continue;
                }
            }

            // Closed: what is still buffered is dropped (a slow client would only fall further behind).
            if (!more || client.CloseReason is not null)
            {
                return lastId;
            }

            while (client.CloseReason is null && client.Events.TryRead(out var streamEvent))
            {
                // The client joined before its replay was read: live copies of replayed events are skipped.
                if (EntryId.TryParse(lastId, out var written) && EntryId.TryParse(streamEvent.Id, out var id) && id.CompareTo(written) <= 0)
                {
                    continue;
                }

                await WriteEventAsync(response, streamEvent, aborted).ConfigureAwait(false);
                lastId = streamEvent.Id;
            }

            await response.Body.FlushAsync(aborted).ConfigureAwait(false);
        }

        return lastId;
    }

    private static Task WriteEventAsync(HttpResponse response, StreamEvent streamEvent, CancellationToken cancellationToken) =>
        WriteAsync(response, $"id: {streamEvent.Id}\nevent: {streamEvent.Name}\ndata: {streamEvent.Data}\n\n", cancellationToken);

    private static Task WriteAsync(HttpResponse response, string text, CancellationToken cancellationToken) =>
        response.WriteAsync(text, Encoding.UTF8, cancellationToken);

    private static string Notice(string reason, string detail) => JsonSerializer.Serialize(new TelemetryStreamNotice
    {
        Reason = Platform.Data.WireNames.Parse<TelemetryStreamNoticeReason>(reason),
        Detail = detail,
    });

    private static string Explain(string reason) => reason switch
    {
        CloseReasons.SlowConsumer => "This stream fell too far behind (its buffer of events filled): it is closed instead of buffering more. Reconnect with the last id you received.",
        _ => "The service is shutting down. Reconnect with the last id you received; another instance will resume the stream.",
    };
}
