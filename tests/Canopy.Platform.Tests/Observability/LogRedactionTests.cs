using System.Text.Json;
using Canopy.Platform.Observability;

namespace Canopy.Platform.Tests.Observability;

public sealed class LogRedactionTests
{
    [Fact]
    public void Given_an_event_holding_every_kind_of_secret_Then_the_json_line_hides_them_all_and_keeps_the_rest()
    {
        var output = new StringWriter();
        using (var logger = CanopyLogging.Configure(new Serilog.LoggerConfiguration(), new LogOutput(output, buffered: false)).CreateLogger())
        {
            var request = new
            {
                Authorization = "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
                Cookie = "session=abc123",
                Password = "correct horse battery staple",
                RefreshToken = "rt_8f7d6a5c",
                ClientSecret = "whsec_c2VjcmV0",
                Email = "grower@example.com",
                Headers = new Dictionary<string, string> { ["X-Api-Key"] = "key-123", ["Accept"] = "application/json" },
                Farm = "North greenhouse",
            };
            logger.Information("Signing in {@Request} for {Contact} with {Note}", request, "ops@canopy.test",
                "password=hunter2; token: tok-999; Bearer abc.def.ghi");
            logger.Error(new InvalidOperationException("Connection failed: Host=db;Password=pg-secret; user me@example.org"), "Failed");
        }

        var text = output.ToString();
        foreach (var secret in new[]
        {
            "eyJhbGciOiJFUzI1NiJ9", "abc123", "correct horse", "rt_8f7d6a5c", "whsec_c2VjcmV0", "grower@example.com",
            "key-123", "ops@canopy.test", "hunter2", "tok-999", "abc.def.ghi", "pg-secret", "me@example.org",
        })
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }

        Assert.Contains("North greenhouse", text, StringComparison.Ordinal);
        Assert.Contains("application/json", text, StringComparison.Ordinal);
        Assert.Contains("[REDACTED]", text, StringComparison.Ordinal);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        var first = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal("info", first.GetProperty("level").GetString());
        Assert.EndsWith("Z", first.GetProperty("timestamp").GetString(), StringComparison.Ordinal);
        Assert.Equal("error", JsonDocument.Parse(lines[1]).RootElement.GetProperty("level").GetString());
    }

    [Theory]
    [InlineData("password", true)]
    [InlineData("newPassword", true)]
    [InlineData("access_token", true)]
    [InlineData("Authorization", true)]
    [InlineData("email", true)]
    [InlineData("e_mail", true)]
    [InlineData("farm_name", false)]
    [InlineData("zone_id", false)]
    public void Given_a_property_name_Then_sensitive_names_are_recognised(string name, bool sensitive)
    {
        Assert.Equal(sensitive, LogRedaction.IsSensitiveName(name));
    }
}
