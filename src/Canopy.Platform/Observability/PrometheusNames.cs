using System.Text;

namespace Canopy.Platform.Observability;

/// <summary>OpenTelemetry instrument names and units to Prometheus metric and label names.</summary>
public static class PrometheusNames
{
    private static readonly Dictionary<string, string> Units = new(StringComparer.Ordinal)
    {
        ["s"] = "seconds",
        ["ms"] = "milliseconds",
        ["By"] = "bytes",
        ["%"] = "percent",
    };

    /// <summary><c>http.server.request.duration</c> in <c>s</c> → <c>http_server_request_duration_seconds</c>.</summary>
    public static string Metric(string name, string? unit, bool monotonicCounter)
    {
        ArgumentNullException.ThrowIfNull(name);
        var result = Sanitise(name, allowColon: true);
        if (unit is { Length: > 0 } && !unit.StartsWith('{') && unit != "1")
        {
            var suffix = Units.TryGetValue(unit, out var known) ? known : Sanitise(unit, allowColon: false);
            if (!result.EndsWith("_" + suffix, StringComparison.Ordinal))
            {
                result += "_" + suffix;
            }
        }

        // "_count" is reserved for histograms and summaries (promtool lints it): a gauge such as
        // db.client.connection.count becomes the plural db_client_connections.
        if (!monotonicCounter && result.EndsWith("_count", StringComparison.Ordinal))
        {
            var stem = result[..^"_count".Length];
            result = stem.EndsWith('y') && !stem.EndsWith("ey", StringComparison.Ordinal) ? stem[..^1] + "ies" : stem + "s";
        }

        if (monotonicCounter && !result.EndsWith("_total", StringComparison.Ordinal))
        {
            result += "_total";
        }

        return result;
    }

    public static string Label(string name) => Sanitise(name, allowColon: false);

    public static string EscapeLabelValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
    }

    public static string EscapeHelp(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
    }

    private static string Sanitise(string name, bool allowColon)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':') ? c : '_');
        }

        if (builder.Length == 0 || char.IsAsciiDigit(builder[0]))
        {
            builder.Insert(0, '_');
        }

        return builder.ToString();
    }
}
