using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Canopy.Platform.Metrics;

/// <summary>Decides whether a scrape of <c>/metrics</c> is allowed: from an allowed network, or with the scrape token.</summary>
public sealed class MetricsAccessPolicy
{
    private readonly IPNetwork[] _networks;
    private readonly byte[] _token;

    public MetricsAccessPolicy(MetricsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _networks = Parse(options.AllowedNetworks);
        _token = Encoding.UTF8.GetBytes(options.ScrapeToken);
    }

    public bool Allows(IPAddress? remote, string? authorization)
    {
        if (remote is not null)
        {
            var address = remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote;
            if (_networks.Any(n => n.Contains(address)))
            {
                return true;
            }
        }

        const string scheme = "Bearer ";
        if (_token.Length == 0 || authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var presented = Encoding.UTF8.GetBytes(authorization[scheme.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(presented, _token);
    }

    /// <summary>Parses a comma-separated CIDR list; a malformed entry is a configuration error.</summary>
    public static IPNetwork[] Parse(string networks)
    {
        ArgumentNullException.ThrowIfNull(networks);
        return networks
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(entry => IPNetwork.TryParse(entry, out var network)
                ? network
                : throw new FormatException($"Metrics__AllowedNetworks: '{entry}' is not a CIDR network such as 10.0.0.0/8."))
            .ToArray();
    }
}
