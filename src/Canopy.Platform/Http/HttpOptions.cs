using System.ComponentModel.DataAnnotations;

namespace Canopy.Platform.Http;

/// <summary>Limits and transport rules of the HTTP surface.</summary>
public sealed class HttpOptions
{
    public const string Section = "Http";

    /// <summary>Default request body limit; an operation may raise or lower it with <c>x-max-body-bytes</c>.</summary>
    [Range(1_024, 1_073_741_824)]
    public long MaxRequestBodyBytes { get; set; } = 1_048_576;

    /// <summary>A request still running after this many seconds is answered 504.</summary>
    [Range(1, 600)]
    public int RequestTimeoutSeconds { get; set; } = 30;

    /// <summary>On SIGTERM, how long in-flight requests and workers get to finish.</summary>
    [Range(1, 600)]
    public int DrainSeconds { get; set; } = 30;

    /// <summary>Refuse plain HTTP (except health probes) and send HSTS. On in Production.</summary>
    public bool RequireHttps { get; set; }

    /// <summary>Proxies (IP addresses, comma-separated) whose X-Forwarded-For/Proto are believed; no one by default.</summary>
    public string TrustedProxies { get; set; } = "";

    /// <summary>Origins allowed by CORS (comma-separated). "*" is refused outside Development.</summary>
    public string CorsAllowedOrigins { get; set; } = "";

    public IReadOnlyList<string> Origins =>
        CorsAllowedOrigins.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
