using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Platform;

/// <summary>
/// Clients drop connections all the time (a device losing its network, a load generator
/// stopping): that is nobody's failure, and must neither count as an unhandled exception (which
/// pages someone) nor log an error. On real Kestrel: an in-memory server has no connection to cut.
/// </summary>
public sealed class ClientGoneTests
{
    private const string ScrapeToken = "client-gone-test-token";

    [Fact]
    public async Task Given_clients_that_close_their_connection_in_the_middle_of_a_body_Then_no_unhandled_exception_and_no_error_is_recorded()
    {
        var logs = new CapturedLogs();
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { ["Metrics:ScrapeToken"] = ScrapeToken }, logs.InstallInto);
        factory.UseKestrel(0);
        factory.StartServer();
        using var client = factory.CreateClient();

        for (var i = 0; i < 5; i++)
        {
            using var socket = new TcpClient();
            await socket.ConnectAsync(IPAddress.Loopback, client.BaseAddress!.Port);
            var stream = socket.GetStream();
            // A sign-up whose body stops after 30 of its announced 2,000 bytes; then the connection goes.
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /api/v1/sign-ups HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nIdempotency-Key: {Guid.NewGuid()}\r\n"
                + "Content-Length: 2000\r\n\r\n{\"organization_name\": \"Half a"));
            await stream.FlushAsync();
            await Task.Delay(100);
            socket.Client.LingerState = new LingerOption(true, 0); // a reset, as a dropped network gives
        }

        // The server notices each cut connection when its read fails, and logs the request's end.
        await Canopy.Api.Tests.Telemetry.TelemetryApi.EventuallyAsync(
            () => Task.FromResult(logs.Lines.Count(l => l.GetProperty("message").GetString()!.Contains("sign-ups responded", StringComparison.Ordinal)) >= 5),
            "the five cut requests ended");
        using var scrape = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        scrape.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ScrapeToken);
        using var metrics = await client.SendAsync(scrape);
        var exposition = await metrics.Content.ReadAsStringAsync();

        Assert.DoesNotMatch("canopy_unhandled_exceptions\\{source=\"http\"\\} [1-9]", exposition);
        Assert.DoesNotContain(logs.Lines, l => l.GetProperty("level").GetString() is "error" or "fatal");
    }
}
