using System.Net;
using System.Net.Sockets;

namespace Canopy.Api.Tests.Infrastructure;

internal static class FreePort
{
    /// <summary>A loopback port nothing listens on (at the moment of the call).</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
