using System.Diagnostics.Metrics;
using Canopy.Platform.Observability;
using Canopy.Platform.Workers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Canopy.Platform.Tests.Workers;

public sealed class ResilientWorkerTests
{
    [Fact]
    public async Task Given_a_loop_that_throws_twice_Then_it_backs_off_counts_the_failures_and_keeps_running_until_stopped()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        using var metrics = new CanopyMetrics(factory);
        long counted = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (ReferenceEquals(i.Meter.Scope, factory) && i.Meter.Name == CanopyMetrics.MeterName && i.Name == "unhandled_exceptions")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        // An observed counter: each observation is the running total.
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "source", Value: "worker:flaky" })
                {
                    Interlocked.Exchange(ref counted, value);
                }
            }
        });
        listener.Start();
        using var worker = new FlakyWorker(metrics, failuresFirst: 2);

        await worker.StartAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (worker.Successes < 3 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        var stopping = worker.StopAsync(CancellationToken.None);
        Assert.True(await Task.WhenAny(stopping, Task.Delay(5000)) == stopping, "the worker did not stop");
        Assert.True(worker.Successes >= 3, $"only {worker.Successes} successful iterations");
        Assert.Equal(2, worker.Failures);
        listener.RecordObservableInstruments();
        Assert.Equal(2, Interlocked.Read(ref counted));
        Assert.Equal(0, worker.ConsecutiveFailures);
    }

    [Fact]
    public void Given_consecutive_failures_Then_the_backoff_doubles_within_jitter_and_is_capped()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var metrics = new CanopyMetrics(services.GetRequiredService<IMeterFactory>());
        using var worker = new FlakyWorker(metrics, 0);

        Assert.InRange(worker.Backoff(1).TotalMilliseconds, 8, 12);
        Assert.InRange(worker.Backoff(2).TotalMilliseconds, 16, 24);
        Assert.InRange(worker.Backoff(3).TotalMilliseconds, 32, 48);
        Assert.InRange(worker.Backoff(40).TotalMilliseconds, 80, 120);
    }

    private sealed class FlakyWorker(CanopyMetrics metrics, int failuresFirst)
        : ResilientWorker(NullLogger.Instance, metrics, TimeProvider.System)
    {
        private int _calls;

        public int Failures { get; private set; }

        public int Successes { get; private set; }

        protected override string Name => "flaky";

        protected override TimeSpan Interval => TimeSpan.FromMilliseconds(5);

        protected override TimeSpan FirstBackoff => TimeSpan.FromMilliseconds(10);

        protected override TimeSpan MaxBackoff => TimeSpan.FromMilliseconds(100);

        protected override Task RunOnceAsync(CancellationToken stoppingToken)
        {
            if (++_calls <= failuresFirst)
            {
                Failures++;
                throw new InvalidOperationException("downstream hiccup");
            }

            Successes++;
            return Task.CompletedTask;
        }
    }
}
