using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Canopy.Api.Tests.Infrastructure;

/// <summary>
/// A real redis-server of the test's own, on a free loopback port, that the test may stop and
/// start again without touching the shared test instance.
/// </summary>
internal sealed class DisposableRedis : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("canopy-redis-").FullName;
    private Process? _process;

    public DisposableRedis()
    {
        Port = FreePort.Next();
        Start();
    }

    public int Port { get; }

    public string ConnectionString => TestServers.RedisAt(Port);

    public void Start()
    {
        var conf = Path.Combine(_directory, "redis.conf");
        File.WriteAllText(conf, $"requirepass {TestServers.RedisPassword}\n");
        var start = new ProcessStartInfo("redis-server")
        {
            ArgumentList = { conf, "--bind", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--save", "", "--appendonly", "no", "--dir", _directory },
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
        WaitUntil(accepting: true);
    }

    public void Stop()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process?.Dispose();
        _process = null;
        WaitUntil(accepting: false);
    }

    /// <summary>Stops the server process (SIGSTOP): connections stay open and nothing answers, as when a host stalls.</summary>
    public void Freeze() => Signal("STOP");

    /// <summary>Lets a frozen server run again (SIGCONT).</summary>
    public void Thaw() => Signal("CONT");

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            Thaw();
        }

        Stop();
        Directory.Delete(_directory, recursive: true);
    }

    private void Signal(string signal)
    {
        var pid = (_process ?? throw new InvalidOperationException("redis-server is not running.")).Id;
        using var kill = Process.Start("kill", $"-{signal} {pid.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        kill.WaitForExit();
    }

    private void WaitUntil(bool accepting)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (Accepts() == accepting)
            {
                return;
            }

            Thread.Sleep(50);
        }

        throw new TimeoutException($"redis-server on port {Port} did not become {(accepting ? "reachable" : "unreachable")}.");
    }

    private bool Accepts()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
