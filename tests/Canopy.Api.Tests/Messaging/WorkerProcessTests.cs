using System.Diagnostics;
using System.Text;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Platform.Messaging;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Messaging;

[Collection("messaging")]
[Trait("Category", "Process")]
public sealed class WorkerProcessTests
{
    private readonly string _queue = "proc-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Given_two_worker_processes_on_one_queue_Then_every_job_of_thousands_runs_exactly_once()
    {
        const int jobs = 2000;
        await using var producer = await ProducerAsync();
        using var first = Harness.Start(_queue, leaseSeconds: 30, concurrency: 8);
        using var second = Harness.Start(_queue, leaseSeconds: 30, concurrency: 8);
        await first.WaitForAsync("harness: ready");
        await second.WaitForAsync("harness: ready");

        await producer.InTransactionAsync(async (c, t) =>
        {
            for (var i = 0; i < jobs; i++)
            {
                await producer.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "harness.record", new { i }), CancellationToken.None);
            }

            return 0;
        });

        await producer.WaitUntilAsync(async () => await producer.CountAsync("SELECT count(*) FROM platform.jobs WHERE queue = $1 AND status = 'SUCCEEDED'", _queue) == jobs,
            $"all {jobs} jobs succeed", seconds: 120);
        Assert.Equal(jobs, await producer.CountAsync("SELECT count(*) FROM kernel_tests.job_effects e JOIN platform.jobs j ON j.id = e.job_id WHERE j.queue = $1", _queue));
        Assert.Equal(0, await producer.CountAsync("""
            SELECT count(*) FROM (SELECT e.job_id FROM kernel_tests.job_effects e JOIN platform.jobs j ON j.id = e.job_id
                                   WHERE j.queue = $1 GROUP BY e.job_id HAVING count(*) > 1) twice
            """, _queue));
        Assert.Equal(2, await producer.CountAsync("SELECT count(DISTINCT e.worker) FROM kernel_tests.job_effects e JOIN platform.jobs j ON j.id = e.job_id WHERE j.queue = $1", _queue));
    }

    [Fact]
    public async Task Given_a_worker_killed_mid_job_Then_another_retries_it_after_the_lease_and_the_effect_happens_once()
    {
        await using var producer = await ProducerAsync();
        using var doomed = Harness.Start(_queue, leaseSeconds: 2, concurrency: 1);
        await doomed.WaitForAsync("harness: ready");
        var id = await producer.InTransactionAsync((c, t) => producer.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "harness.record", new { pause_ms = 3000 }), CancellationToken.None));
        await doomed.WaitForAsync($"harness: running {id} attempt 1");

        doomed.KillHard();
        using var survivor = Harness.Start(_queue, leaseSeconds: 2, concurrency: 1);

        await producer.WaitUntilAsync(async () => await producer.ScalarAsync<string>("SELECT status FROM platform.jobs WHERE id = $1", id) == "SUCCEEDED",
            "the job succeeds on the survivor", seconds: 60);
        Assert.Equal(1, await producer.CountAsync("SELECT count(*) FROM kernel_tests.job_effects WHERE job_id = $1", id));
        Assert.Equal(["lease-expired", "succeeded"], await producer.ScalarAsync<string[]>("SELECT array_agg(outcome ORDER BY attempt) FROM platform.job_attempts WHERE job_id = $1", id));
    }

    [Fact]
    public async Task Given_sigterm_while_a_job_runs_Then_the_worker_finishes_it_before_exiting_0()
    {
        await using var producer = await ProducerAsync();
        using var worker = Harness.Start(_queue, leaseSeconds: 30, concurrency: 1);
        await worker.WaitForAsync("harness: ready");
        var id = await producer.InTransactionAsync((c, t) => producer.Writer.EnqueueAsync(c, t, new JobRequest(_queue, "harness.record", new { pause_ms = 2000 }), CancellationToken.None));
        await worker.WaitForAsync($"harness: running {id} attempt 1");

        worker.Terminate();

        Assert.True(await worker.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the worker did not exit");
        Assert.Equal(0, worker.ExitCode);
        Assert.Equal("SUCCEEDED", await producer.ScalarAsync<string>("SELECT status FROM platform.jobs WHERE id = $1", id));
        Assert.Equal(1, await producer.CountAsync("SELECT count(*) FROM kernel_tests.job_effects WHERE job_id = $1", id));
    }

    /// <summary>A host that only writes: the harness processes run the jobs.</summary>
    private Task<MessagingHost> ProducerAsync() =>
        MessagingHost.StartAsync(s => s.AddSingleton(new QueueDefinition(_queue, "messaging-tests", Concurrency: 1, MaxAttempts: 3)), runWorkers: false);

    private sealed class Harness : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly Lock _gate = new();

        private Harness(Process process) => _process = process;

        public int ExitCode => _process.ExitCode;

        public static Harness Start(string queue, int leaseSeconds, int concurrency)
        {
            var start = new ProcessStartInfo("dotnet")
            {
                ArgumentList = { HarnessDll(), "--queue", queue, "--lease-seconds", leaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "--concurrency", concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.Environment["ConnectionStrings__Postgres"] = TestServers.PostgresConnectionString;
            start.Environment["Logging__LogLevel__Default"] = "Warning";
            var harness = new Harness(new Process { StartInfo = start });
            harness._process.OutputDataReceived += (_, e) => harness.Append(e.Data);
            harness._process.ErrorDataReceived += (_, e) => harness.Append(e.Data);
            harness._process.Start();
            harness._process.BeginOutputReadLine();
            harness._process.BeginErrorReadLine();
            return harness;
        }

        public async Task WaitForAsync(string line)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                lock (_gate)
                {
                    if (_output.ToString().Contains(line, StringComparison.Ordinal))
                    {
                        return;
                    }
                }

                Assert.False(_process.HasExited, $"the harness exited early:\n{_output}");
                await Task.Delay(25);
            }

            Assert.Fail($"The harness never printed '{line}':\n{_output}");
        }

        public void KillHard()
        {
            ProcessControl.Signal(_process, "KILL");
            _process.WaitForExit();
        }

        public void Terminate() => ProcessControl.Signal(_process, "TERM");

        public Task<bool> WaitForExitAsync(TimeSpan timeout) => ProcessControl.WaitForExitAsync(_process, timeout);

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }

            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_gate)
                {
                    _output.AppendLine(line);
                }
            }
        }

        private static string HarnessDll()
        {
            var testDir = new DirectoryInfo(AppContext.BaseDirectory);
            var configuration = testDir.Parent!.Name;
            var root = testDir;
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "global.json")))
            {
                root = root.Parent;
            }

            return Path.Combine(root!.FullName, "tests", "Canopy.Messaging.Harness", "bin", configuration, "net10.0", "Canopy.Messaging.Harness.dll");
        }
    }
}
