using Canopy.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.RouteParity;

[Trait("Category", "RouteParity")]
public sealed class RouteParityTests
{
    [Fact]
    public async Task Given_the_built_application_Then_it_serves_exactly_the_operations_of_the_spec()
    {
        await using var factory = new CanopyApiFactory();
        using var client = factory.CreateClient(); // starts the host so every endpoint is mapped
        var spec = RouteParity.FromSpec(await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "openapi", "api.yaml")));
        var served = RouteParity.FromEndpoints(
            factory.Services.GetServices<EndpointDataSource>(),
            ApiDocuments.Routes);

        var differences = RouteParity.Compare(spec, served);

        Assert.NotEmpty(spec);
        Assert.True(differences.Count == 0, "Route parity failed:\n  " + string.Join("\n  ", differences));
    }

    [Fact]
    public void Given_an_operation_without_implementation_and_an_undocumented_route_Then_both_are_reported()
    {
        Route[] spec = [new("GET", "/api/v1/devices/{device_id}"), new("POST", "/api/v1/devices")];
        Route[] served = [new("GET", "/api/v1/devices/{device_id}"), new("DELETE", "/api/v1/devices/{device_id}")];

        var differences = RouteParity.Compare(spec, served);

        Assert.Equal(
            ["in the spec but not served: POST /api/v1/devices", "served but not in the spec: DELETE /api/v1/devices/{device_id}"],
            differences);
    }

    [Fact]
    public void Given_route_constraints_and_a_missing_leading_slash_Then_templates_still_match_the_spec()
    {
        var spec = RouteParity.FromSpec("""
            openapi: 3.0.3
            paths:
              /api/v1/devices/{device_id}:
                get: {}
                parameters: []
            """);
        var endpoint = new RouteEndpoint(
            _ => Task.CompletedTask,
            RoutePatternFactory.Parse("api/v1/devices/{device_id:guid}"),
            0,
            new EndpointMetadataCollection(new HttpMethodMetadata(["GET"])),
            "getDevice");
        var served = RouteParity.FromEndpoints([new DefaultEndpointDataSource(endpoint)], []);

        Assert.Equal([new Route("GET", "/api/v1/devices/{device_id}")], spec);
        Assert.Empty(RouteParity.Compare(spec, served));
    }
}
