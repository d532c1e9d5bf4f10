using System.Net;
using System.Net.Sockets;
using System.Text;
using Canopy.Platform.Http;

namespace Canopy.Platform.Tests.Http;

/// <summary>The connect-time guard, with real sockets on 127.0.0.1: refused destinations get no connection at all.</summary>
public sealed class OutboundHttpTests : IDisposable
{
    private readonly TcpListener _receiver = new(IPAddress.Loopback, 0);

    public OutboundHttpTests() => _receiver.Start();

    private int Port => ((IPEndPoint)_receiver.LocalEndpoint).Port;

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    [InlineData("[::ffff:127.0.0.1]")]
    public async Task Given_a_receiver_on_loopback_Then_the_request_is_refused_before_a_connection_is_opened(string host)
    {
        using var client = new HttpClient(OutboundHttp.CreateHandler(new OutboundOptions()));

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri($"http://{host}:{Port}/hook")));

        var forbidden = Assert.IsType<ForbiddenDestinationException>(refused.InnerException);
        Assert.True(IPAddress.IsLoopback(forbidden.Address!) || forbidden.Address!.IsIPv4MappedToIPv6, forbidden.Address!.ToString());
        Assert.False(_receiver.Pending(), "the receiver saw no connection");
    }

    [Theory]
    [InlineData("169.254.169.254", false)]
    [InlineData("10.0.0.1", false)]
    [InlineData("[fd00::1]", false)]
    [InlineData("169.254.169.254", true)]
    [InlineData("192.168.0.1", true)]
    public async Task Given_an_internal_address_Then_it_is_refused_at_once_without_trying_the_network_even_with_the_loopback_allowance(string host, bool allowLoopback)
    {
        using var client = new HttpClient(OutboundHttp.CreateHandler(new OutboundOptions { AllowLoopbackForTests = allowLoopback }));

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri($"http://{host}/latest/meta-data/")));

        Assert.IsType<ForbiddenDestinationException>(refused.InnerException);
    }

    [Fact]
    public async Task Given_the_test_only_loopback_allowance_and_a_receiver_redirecting_to_the_metadata_service_Then_the_redirect_is_answered_not_followed()
    {
        using var client = new HttpClient(OutboundHttp.CreateHandler(new OutboundOptions { AllowLoopbackForTests = true }));
        var served = ServeOnceAsync("HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

        using var response = await client.GetAsync(new Uri($"http://127.0.0.1:{Port}/hook"));

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("http://169.254.169.254/latest/meta-data/", response.Headers.Location!.ToString());
        Assert.StartsWith("GET /hook HTTP/1.1", await served, StringComparison.Ordinal);
    }

    /// <summary>Accepts one connection, reads its request head and answers <paramref name="answer"/>; returns the head.</summary>
    private async Task<string> ServeOnceAsync(string answer)
    {
        using var connection = await _receiver.AcceptTcpClientAsync();
        var stream = connection.GetStream();
        var head = new StringBuilder();
        var buffer = new byte[1024];
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer);
            if (read == 0)
            {
                break;
            }

            head.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        await stream.WriteAsync(Encoding.ASCII.GetBytes(answer));
        return head.ToString();
    }

    public void Dispose() => _receiver.Dispose();
}
