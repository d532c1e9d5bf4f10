using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Infrastructure;

/// <summary>
/// Sums what one host records on a counter of the Canopy meter while it lives, optionally only
/// the measurements carrying the given tags: hosts of the same test process have meter factories
/// of their own, so another host's traffic is not counted.
/// </summary>
internal sealed class HostCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _total;

    public HostCounter(IServiceProvider services, string instrument, params (string Key, string Value)[] tags)
    {
        var meters = services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (published, listener) =>
        {
            if (published.Name == instrument && ReferenceEquals(published.Meter.Scope, meters))
            {
                listener.EnableMeasurementEvents(published);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, measured, _) =>
        {
            foreach (var (key, expected) in tags)
            {
                var found = false;
                foreach (var tag in measured)
                {
                    found |= tag.Key == key && (tag.Value as string) == expected;
                }

                if (!found)
                {
                    return;
                }
            }

            Interlocked.Add(ref _total, value);
        });
        _listener.Start();
    }

    public long Total => Interlocked.Read(ref _total);

    public void Dispose() => _listener.Dispose();
}
