using Canopy.Platform.Observability;

namespace Canopy.Platform.Tests.Observability;

public sealed class PrometheusNamesTests
{
    [Theory]
    [InlineData("http.server.request.duration", "s", false, "http_server_request_duration_seconds")]
    [InlineData("canopy.problems", "{problem}", true, "canopy_problems_total")]
    [InlineData("dotnet.gc.heap.total_allocated", "By", true, "dotnet_gc_heap_total_allocated_bytes_total")]
    [InlineData("db.client.connection.count", "{connection}", false, "db_client_connections")]
    [InlineData("dotnet.assembly.count", "{assembly}", false, "dotnet_assemblies")]
    [InlineData("dotnet.gc.collections", "{collection}", true, "dotnet_gc_collections_total")]
    [InlineData("process.start_time", "s", false, "process_start_time_seconds")]
    [InlineData("2xx.rate", "1", false, "_2xx_rate")]
    public void Given_an_instrument_Then_its_prometheus_name_follows_the_conventions(string name, string unit, bool counter, string expected)
    {
        Assert.Equal(expected, PrometheusNames.Metric(name, unit, counter));
    }

    [Fact]
    public void Given_label_values_with_quotes_backslashes_and_newlines_Then_they_are_escaped()
    {
        Assert.Equal("a\\\"b\\\\c\\nd", PrometheusNames.EscapeLabelValue("a\"b\\c\nd"));
        Assert.Equal("http_route", PrometheusNames.Label("http.route"));
    }
}
