using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Canopy.Platform.Http;

/// <summary>Settings of requests to URLs others supplied (section <c>Outbound</c>).</summary>
public sealed class OutboundOptions
{
    public const string Section = "Outbound";

    /// <summary>
    /// Lets such requests reach loopback addresses, for a receiver the tests run on 127.0.0.1:
    /// honoured in the Test environment only, refused at start-up elsewhere.
    /// </summary>
    public bool AllowLoopbackForTests { get; set; }

    /// <summary>How long opening a connection may take.</summary>
    public int ConnectTimeoutSeconds { get; set; } = 5;
}

/// <summary>Raised before any byte is sent when a destination resolves to an address <see cref="OutboundAddresses"/> refuses.</summary>
public sealed class ForbiddenDestinationException : IOException
{
    public ForbiddenDestinationException()
    {
    }

    public ForbiddenDestinationException(string message)
        : base(message)
    {
    }

    public ForbiddenDestinationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ForbiddenDestinationException(string host, IPAddress address)
        : base($"{host} resolves to {address}, which is not a public address; no connection was opened.")
        // (For logs: shown to a tenant, the address would tell them about internal names.)
    {
        Host = host;
        Address = address;
    }

    /// <summary>The host as the URL named it.</summary>
    public string? Host { get; }

    /// <summary>The refused address it resolved to.</summary>
    public IPAddress? Address { get; }
}

/// <summary>
/// HTTP to URLs others supplied, guarded where the connection is opened: the host is resolved
/// there, every address it resolves to must be public (<see cref="OutboundAddresses"/>), and the
/// socket connects to those very addresses, so a name that resolves differently between a check
/// at subscription time and the request (DNS rebinding) cannot reach an internal address.
/// Redirects are not followed: a receiver answering 3xx gets that answer recorded, and cannot
/// send the request on to an address of its choosing.
/// </summary>
public static class OutboundHttp
{
    /// <summary>The name of the guarded <see cref="HttpClient"/> (<c>IHttpClientFactory.CreateClient(Client)</c>).</summary>
    public const string Client = "outbound";

    public static IServiceCollection AddCanopyOutboundHttp(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<OutboundOptions>().Bind(configuration.GetSection(OutboundOptions.Section))
            .Validate<IHostEnvironment>((o, env) => !o.AllowLoopbackForTests || env.IsEnvironment("Test"),
                "Outbound__AllowLoopbackForTests is a test-only setting; remove it.")
            .Validate(o => o.ConnectTimeoutSeconds is >= 1 and <= 60, "Outbound__ConnectTimeoutSeconds must be 1 to 60.")
            .ValidateOnStart();
        services.AddHttpClient(Client, client =>
            {
                // HTTP/3 would open its QUIC connection without the connect callback: never asked for.
                client.DefaultRequestVersion = HttpVersion.Version11;
                client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
            })
            .ConfigurePrimaryHttpMessageHandler(sp => CreateHandler(sp.GetRequiredService<IOptions<OutboundOptions>>().Value));
        return services;
    }

    /// <summary>A handler that connects only to public addresses (and loopback when the Test-only setting allows it), and follows no redirect.</summary>
    public static SocketsHttpHandler CreateHandler(OutboundOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var allowLoopback = options.AllowLoopbackForTests;
        return new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectTimeout = TimeSpan.FromSeconds(options.ConnectTimeoutSeconds),
            // Connections are not kept long: a receiver's name may move to other addresses.
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            UseProxy = false,
            ConnectCallback = (context, cancellationToken) => ConnectAsync(context.DnsEndPoint, allowLoopback, cancellationToken),
        };
    }

    /// <summary>Resolves the host, refuses it if any of its addresses is not allowed, and connects to the first that answers.</summary>
    public static async ValueTask<Stream> ConnectAsync(DnsEndPoint endPoint, bool allowLoopback, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var addresses = IPAddress.TryParse(endPoint.Host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(endPoint.Host, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        // Every address, not only the one connected to: a name mixing public and internal
        // addresses is refused whole rather than left to the order the resolver answers in.
        foreach (var address in addresses)
        {
            if (!OutboundAddresses.IsPublic(address) && !(allowLoopback && IPAddress.IsLoopback(address)))
            {
                throw new ForbiddenDestinationException(endPoint.Host, address);
            }
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endPoint.Port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
