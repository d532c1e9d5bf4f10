using System.Text;
using System.Text.Json;
using Canopy.Platform.Observability;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Infrastructure;

/// <summary>The application's real log pipeline, writing its JSON lines here instead of standard output.</summary>
internal sealed class CapturedLogs : TextWriter
{
    private readonly StringBuilder _text = new();
    private readonly Lock _gate = new();

    public override Encoding Encoding => Encoding.UTF8;

    public void InstallInto(IServiceCollection services) => services.AddSingleton(new LogOutput(this, buffered: false));

    public override void Write(char value)
    {
        lock (_gate)
        {
            _text.Append(value);
        }
    }

    public override void Write(string? value)
    {
        lock (_gate)
        {
            _text.Append(value);
        }
    }

    public string Text
    {
        get
        {
            lock (_gate)
            {
                return _text.ToString();
            }
        }
    }

    /// <summary>Every line as parsed JSON (a line that is not JSON fails the test).</summary>
    public IReadOnlyList<JsonElement> Lines =>
        Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var found = Lines.FirstOrDefault(match);
            if (found.ValueKind != JsonValueKind.Undefined)
            {
                return found;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"No log line {what}. Captured:\n{Text}");
        return default;
    }
}
