namespace Canopy.Platform.Metrics;

/// <summary>Who may scrape <c>/metrics</c>.</summary>
public sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>CIDR networks allowed to scrape without a token (comma-separated in the environment).</summary>
    public string AllowedNetworks { get; set; } = "127.0.0.0/8,::1/128";

    /// <summary>Bearer token that allows a scrape from any address; empty disables token access.</summary>
    public string ScrapeToken { get; set; } = "";
}
