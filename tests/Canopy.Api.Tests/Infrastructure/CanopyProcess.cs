using System.Diagnostics;
using System.Text;

namespace Canopy.Api.Tests.Infrastructure;

/// <summary>The built service as a real process (real Kestrel, real signals), on a free loopback port.</summary>
internal sealed class CanopyProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _gate = new();

    private CanopyProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
    }

    public int Port { get; }

    public Uri BaseAddress { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    public static CanopyProcess Start(IReadOnlyDictionary<string, string> settings)
    {
        var port = FreePort.Next();
        var dll = ServiceDll();
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dll, "--urls", $"http://127.0.0.1:{port}" },
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Test";
        start.Environment["ConnectionStrings__Postgres"] = TestServers.PostgresConnectionString;
        start.Environment["ConnectionStrings__PostgresOwner"] = TestServers.PostgresOwnerConnectionString;
        start.Environment["ConnectionStrings__PostgresReplica"] = TestServers.PostgresReplicaConnectionString;
        start.Environment["ConnectionStrings__Redis"] = TestServers.RedisConnectionString;
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start };
        var canopy = new CanopyProcess(process, port);
        process.OutputDataReceived += (_, e) => canopy.Append(e.Data);
        process.ErrorDataReceived += (_, e) => canopy.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return canopy;
    }

    public async Task WaitUntilAliveAsync(HttpClient client)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            try
            {
                using var response = await client.GetAsync(new Uri(BaseAddress, "/health/live"));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(100);
        }

        Assert.Fail($"The service did not come alive. Output:\n{Output}");
    }

    /// <summary>Sends SIGTERM, as an orchestrator does before stopping a container.</summary>
    public void Terminate() => ProcessControl.Signal(_process, "TERM");

    public Task<bool> WaitForExitAsync(TimeSpan timeout) => ProcessControl.WaitForExitAsync(_process, timeout);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>The service built in the same configuration as these tests.</summary>
    private static string ServiceDll()
    {
        var testDir = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = testDir.Parent!.Name; // .../bin/<Configuration>/net10.0/
        var root = testDir;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "global.json")))
        {
            root = root.Parent;
        }

        var dll = Path.Combine(root!.FullName, "src", "Canopy.Api", "bin", configuration, "net10.0", "Canopy.Api.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build the service first: {dll} is missing.");
    }
}
