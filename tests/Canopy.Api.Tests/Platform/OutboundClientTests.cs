using System.Net;
using System.Net.Sockets;
using Canopy.Api.Tests.Identity;
using Canopy.Platform.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Platform;

/// <summary>The service's own outbound client is the guarded one (tests/Canopy.Platform.Tests checks the guard itself).</summary>
public sealed class OutboundClientTests(IdentityHost host) : IClassFixture<IdentityHost>
{
    [Fact]
    public async Task Given_the_service_s_outbound_client_Then_a_receiver_on_loopback_is_refused_before_any_connection()
    {
        using var receiver = new TcpListener(IPAddress.Loopback, 0);
        receiver.Start();
        var client = host.Factory.Services.GetRequiredService<IHttpClientFactory>().CreateClient(OutboundHttp.Client);

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri($"http://127.0.0.1:{((IPEndPoint)receiver.LocalEndpoint).Port}/hook")));

        Assert.IsType<ForbiddenDestinationException>(refused.InnerException);
        Assert.False(receiver.Pending(), "the receiver saw no connection");
        Assert.Equal(HttpVersion.Version11, client.DefaultRequestVersion);
    }
}
