using System.Net;
using System.Text.Json;

namespace Canopy.Api.Tests.Infrastructure;

/// <summary>Asserts a response is a complete Canopy problem of the given status and type.</summary>
internal static class ProblemAssert
{
    public static async Task<JsonElement> IsProblemAsync(HttpResponseMessage response, HttpStatusCode status, string slug)
    {
        var raw = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {raw}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var root = JsonDocument.Parse(raw).RootElement.Clone();
        Assert.Equal($"https://canopy.dev/problems/{slug}", root.GetProperty("type").GetString());
        Assert.Equal((int)status, root.GetProperty("status").GetInt32());
        Assert.Equal(response.RequestMessage!.RequestUri!.AbsolutePath, root.GetProperty("instance").GetString());
        foreach (var member in new[] { "title", "detail", "human_readable_cause", "suggested_action" })
        {
            Assert.False(string.IsNullOrWhiteSpace(root.GetProperty(member).GetString()), $"{member} is empty in {raw}");
        }

        Assert.Matches("^[0-9a-f]{32}$", root.GetProperty("trace_id").GetString());
        return root;
    }

    public static IReadOnlyList<(string? Pointer, string? Parameter, string? In)> Errors(JsonElement problem) =>
        problem.TryGetProperty("errors", out var errors)
            ? errors.EnumerateArray().Select(e => (Get(e, "pointer"), Get(e, "parameter"), Get(e, "in"))).ToList()
            : [];

    private static string? Get(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetString() : null;
}
