using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using Canopy.Platform.Postgres;
using Microsoft.Extensions.Options;

namespace Canopy.Platform.Metrics;

/// <summary>
/// Writes the service's metrics in the Prometheus text exposition format (version 0.0.4).
/// </summary>
public sealed class PrometheusExposition(PostgresPoolMonitor pool, IOptions<PostgresOptions> postgres, TimeProvider time)
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private static readonly string Version =
        typeof(PrometheusExposition).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "unknown";

    public string Render()
    {
        var text = new StringBuilder();
        Gauge(text, "canopy_build_info", "Build information of the running Canopy service.",
            [($"version=\"{Escape(Version)}\"", 1)]);

        var process = Process.GetCurrentProcess();
        Gauge(text, "process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.",
            [(null, new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0)]);
        Gauge(text, "process_resident_memory_bytes", "Resident memory size in bytes.",
            [(null, process.WorkingSet64)]);

        var poolName = postgres.Value.PoolName;
        var usage = pool.Read(poolName);
        var poolLabel = $"pool=\"{Escape(poolName)}\"";
        Gauge(text, "canopy_db_pool_connections", "PostgreSQL pool connections by state.",
            [($"{poolLabel},state=\"used\"", usage.InUse), ($"{poolLabel},state=\"idle\"", usage.Idle)]);
        Gauge(text, "canopy_db_pool_max_connections", "Configured maximum of the PostgreSQL pool.",
            [(poolLabel, usage.Max)]);
        Gauge(text, "canopy_scrape_timestamp_seconds", "When this exposition was rendered, since the Unix epoch.",
            [(null, time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0)]);
        return text.ToString();
    }

    private static void Gauge(StringBuilder text, string name, string help, (string? Labels, double Value)[] samples)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(" gauge\n");
        foreach (var (labels, value) in samples)
        {
            text.Append(name);
            if (labels is not null)
            {
                text.Append('{').Append(labels).Append('}');
            }

            text.Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }
    }

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
