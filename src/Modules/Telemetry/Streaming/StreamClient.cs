using System.Threading.Channels;

namespace Canopy.Telemetry.Streaming;

/// <summary>One server-sent event: its id (a Redis stream entry id), its name and its JSON data.</summary>
internal sealed record StreamEvent(string Id, string Name, string Data);

/// <summary>Why the service ends a stream (TelemetryStreamNotice.reason).</summary>
internal static class CloseReasons
{
    public const string SlowConsumer = "slow_consumer";
    public const string ShuttingDown = "shutting_down";
    public const string ReplayUnavailable = "replay_unavailable";
}

/// <summary>
/// One connected client: a bounded buffer between the instance's subscription and the client's
/// connection. When the buffer is full the client is behind by that many events: it is closed
/// (slow_consumer) instead of buffering more, so a client that stops reading costs a fixed amount
/// of memory.
/// </summary>
internal sealed class StreamClient : IDisposable
{
    private readonly Channel<StreamEvent> _buffer;
    private readonly CancellationTokenSource _closed = new();
    private string? _closeReason;

    public StreamClient(int capacity)
    {
        _buffer = Channel.CreateBounded<StreamEvent>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    public ChannelReader<StreamEvent> Events => _buffer.Reader;

    public string? CloseReason => Volatile.Read(ref _closeReason);

    /// <summary>Cancelled once the client is closed, whatever the reason.</summary>
    public CancellationToken Closed => _closed.Token;

    /// <summary>Buffers a live event; a full buffer closes the client (slow_consumer).</summary>
    public void Offer(StreamEvent streamEvent)
    {
        ArgumentNullException.ThrowIfNull(streamEvent);
        if (CloseReason is null && !_buffer.Writer.TryWrite(streamEvent))
        {
            Close(CloseReasons.SlowConsumer);
        }
    }

    public void Close(string reason)
    {
        if (Interlocked.CompareExchange(ref _closeReason, reason, null) is null)
        {
            _buffer.Writer.TryComplete();
            _closed.Cancel();
        }
    }

    public void Dispose() => _closed.Dispose();
}

/// <summary>A Redis stream entry id (milliseconds-sequence), ordered as Redis orders them.</summary>
internal readonly record struct EntryId(long Milliseconds, long Sequence) : IComparable<EntryId>
{
    public static bool TryParse(string? text, out EntryId id)
    {
        id = default;
        var dash = text?.IndexOf('-', StringComparison.Ordinal) ?? -1;
        if (dash <= 0
            || !long.TryParse(text.AsSpan(0, dash), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms)
            || !long.TryParse(text.AsSpan(dash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seq))
        {
            return false;
        }

        id = new EntryId(ms, seq);
        return true;
    }

    public int CompareTo(EntryId other) => Milliseconds != other.Milliseconds ? Milliseconds.CompareTo(other.Milliseconds) : Sequence.CompareTo(other.Sequence);

    public override string ToString() => $"{Milliseconds}-{Sequence}";
}
