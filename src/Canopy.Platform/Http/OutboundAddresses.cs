using System.Net;
using System.Net.Sockets;

namespace Canopy.Platform.Http;

/// <summary>
/// Which addresses a request to a URL someone else supplied (a webhook receiver) may reach: only
/// public unicast ones. Refused: unspecified, loopback, private (RFC 1918), carrier-grade NAT,
/// link-local (169.254.169.254, the cloud metadata service, included), multicast, broadcast and
/// reserved IPv4 ranges, documentation and benchmarking ranges; IPv6 unspecified, loopback,
/// link-local, site-local, unique local (fc00::/7), multicast, documentation, Teredo; and any
/// IPv6 form that carries an IPv4 address (IPv4-mapped, IPv4-translated, NAT64, 6to4) when the
/// address it carries is refused; IPv4-compatible addresses (deprecated) and local-use NAT64
/// (64:ff9b:1::/48) always.
/// </summary>
public static class OutboundAddresses
{
    private static readonly (uint Network, int Bits)[] RefusedV4 =
    [
        (0x00000000, 8), // 0.0.0.0/8: "this network", the unspecified address
        (0x0A000000, 8), // 10.0.0.0/8: private
        (0x64400000, 10), // 100.64.0.0/10: carrier-grade NAT
        (0x7F000000, 8), // 127.0.0.0/8: loopback
        (0xA9FE0000, 16), // 169.254.0.0/16: link-local, the metadata service
        (0xAC100000, 12), // 172.16.0.0/12: private
        (0xC0000000, 24), // 192.0.0.0/24: protocol assignments
        (0xC0000200, 24), // 192.0.2.0/24: documentation
        (0xC0A80000, 16), // 192.168.0.0/16: private
        (0xC6120000, 15), // 198.18.0.0/15: benchmarking
        (0xC6336400, 24), // 198.51.100.0/24: documentation
        (0xCB007100, 24), // 203.0.113.0/24: documentation
        (0xE0000000, 4), // 224.0.0.0/4: multicast
        (0xF0000000, 4), // 240.0.0.0/4: reserved, 255.255.255.255 included
    ];

    /// <summary>Whether a connection to <paramref name="address"/> may be opened for a user-supplied URL.</summary>
    public static bool IsPublic(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork => IsPublicV4(V4(address)),
            AddressFamily.InterNetworkV6 => IsPublicV6(address),
            _ => false,
        };
    }

    private static bool IsPublicV4(uint address) =>
        !RefusedV4.Any(range => (address & Mask(range.Bits)) == range.Network);

    private static bool IsPublicV6(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return IsPublicV4(V4(address.MapToIPv4()));
        }

        if (IPAddress.IPv6Any.Equals(address) || IPAddress.IPv6Loopback.Equals(address)
            || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6Teredo)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        // fc00::/7: unique local.
        if ((bytes[0] & 0xFE) == 0xFC)
        {
            return false;
        }

        // 2001:db8::/32: documentation.
        if (bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0D && bytes[3] == 0xB8)
        {
            return false;
        }

        // ::/96: IPv4-compatible, deprecated and never routed.
        if (bytes[..12].IndexOfAnyExcept((byte)0) < 0)
        {
            return false;
        }

        // 64:ff9b::/96 (NAT64): the last four bytes are the IPv4 address reached. 64:ff9b:1::/48
        // is NAT64 for local use: inside a network by definition.
        if (bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xFF && bytes[3] == 0x9B)
        {
            if (bytes[4] == 0x00 && bytes[5] == 0x01)
            {
                return false;
            }

            if (bytes[4..12].IndexOfAnyExcept((byte)0) < 0)
            {
                return IsPublicV4(ReadV4(bytes[12..]));
            }
        }

        // ::ffff:0:0/96 (IPv4-translated, SIIT): the last four bytes are an IPv4 address.
        if (bytes[..8].IndexOfAnyExcept((byte)0) < 0 && bytes[8] == 0xFF && bytes[9] == 0xFF && bytes[10] == 0x00 && bytes[11] == 0x00)
        {
            return IsPublicV4(ReadV4(bytes[12..]));
        }

        // 2002::/16 (6to4): bytes 2 to 5 are an IPv4 address.
        if (bytes[0] == 0x20 && bytes[1] == 0x02)
        {
            return IsPublicV4(ReadV4(bytes[2..6]));
        }

        return true;
    }

    private static uint Mask(int bits) => bits == 0 ? 0 : uint.MaxValue << (32 - bits);

    private static uint V4(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return ReadV4(bytes);
    }

    private static uint ReadV4(ReadOnlySpan<byte> bytes) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes);
}
