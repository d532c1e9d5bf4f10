using System.Net;
using System.Text.Json;
using Canopy.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Platform;

public sealed class UnhandledExceptionTests
{
    [Fact]
    public async Task Given_a_handler_that_throws_Then_the_answer_is_a_500_problem_without_internals_and_the_next_request_is_served()
    {
        await using var factory = new CanopyApiFactory(configureServices: services =>
            services.AddControllers().AddApplicationPart(typeof(ThrowingController).Assembly));
        using var client = factory.CreateClient();

        using var failed = await client.GetAsync(new Uri("/test-only/throw", UriKind.Relative));

        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.Equal("application/problem+json", failed.Content.Headers.ContentType?.MediaType);
        var raw = await failed.Content.ReadAsStringAsync();
        using var body = JsonDocument.Parse(raw);
        Assert.Equal("https://canopy.dev/problems/internal-error", body.RootElement.GetProperty("type").GetString());
        Assert.Equal(500, body.RootElement.GetProperty("status").GetInt32());
        Assert.Matches("^[0-9a-f]{32}$", body.RootElement.GetProperty("trace_id").GetString());
        foreach (var leak in new[] { "InvalidOperationException", "ThrowingController", "secret-connection-detail", " at ", ".cs:line" })
        {
            Assert.DoesNotContain(leak, raw, StringComparison.Ordinal);
        }

        using var next = await client.GetAsync(new Uri("/health/live", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }
}

/// <summary>Test-only controller that fails the way a buggy handler would.</summary>
[ApiController]
[Route("test-only")]
public sealed class ThrowingController : ControllerBase
{
    [HttpGet("throw")]
    public IActionResult Throw() =>
        throw new InvalidOperationException($"secret-connection-detail: Host=db.internal;Password=hunter2 on {Request.Path}");
}
