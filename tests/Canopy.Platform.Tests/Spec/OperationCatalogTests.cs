using Canopy.Platform.Spec;

namespace Canopy.Platform.Tests.Spec;

public sealed class OperationCatalogTests
{
    private const string Document = """
        openapi: 3.0.3
        info: { title: t, version: 1.0.0 }
        components:
          parameters:
            Limit:
              name: limit
              in: query
              schema: { type: integer, minimum: 1, maximum: 200, default: 50 }
        paths:
          /api/v1/devices:
            parameters:
              - name: X-Trace
                in: header
                schema: { type: string, maxLength: 64 }
            get:
              operationId: listDevices
              x-rate-limit-tier: standard
              x-roles: [viewer]
              parameters:
                - $ref: '#/components/parameters/Limit'
                - name: status
                  in: query
                  schema: { type: string, enum: [ACTIVE, FAULT] }
            post:
              operationId: registerDevice
              x-max-body-bytes: 65536
              deprecated: true
              x-deprecated-at: '2026-11-01T00:00:00Z'
              x-sunset: 2027-05-01T12:00:00+02:00
              x-idempotency: required
              x-cache-ttl: 30
        """;

    [Fact]
    public void Given_a_document_Then_each_operation_has_its_parameters_resolved_and_its_extensions()
    {
        var catalog = OperationCatalog.Parse(Document);

        var list = catalog.Find("listDevices")!;
        Assert.Equal("GET", list.Method);
        Assert.Equal("/api/v1/devices", list.Path);
        var limit = list.Parameters.Single(p => p.Name == "limit");
        Assert.Equal((1m, 200m, "integer"), (limit.Minimum, limit.Maximum, limit.Type));
        Assert.Equal(["ACTIVE", "FAULT"], list.Parameters.Single(p => p.Name == "status").Enum);
        Assert.Equal(64, list.Parameters.Single(p => p.Name == "X-Trace").MaxLength);
        Assert.Equal("standard", list.Extensions["x-rate-limit-tier"]);
        Assert.Equal("viewer", list.Extensions["x-roles"]);
        Assert.Null(list.MaxBodyBytes);

        var register = catalog.Find("registerDevice")!;
        Assert.Equal(65536, register.MaxBodyBytes);
        Assert.Equal("true", register.Extensions["deprecated"]);
        // Values reach the policies as written: a date keeps its time and offset, a number its digits.
        Assert.Equal("2026-11-01T00:00:00Z", register.Extensions["x-deprecated-at"]);
        Assert.Equal("2027-05-01T12:00:00+02:00", register.Extensions["x-sunset"]);
        Assert.Equal("30", register.Extensions["x-cache-ttl"]);
        Assert.False(list.Extensions.ContainsKey("deprecated"));
        Assert.Null(catalog.Find("nope"));
    }

    [Fact]
    public void Given_the_real_spec_Then_every_operation_is_read()
    {
        var catalog = OperationCatalog.Parse(RepoFiles.Read(".openapi", "api.yaml"));

        Assert.Contains(catalog.Operations, o => o.OperationId == "getReadiness" && o.Path == "/health/ready");
        Assert.NotEmpty(catalog.ProblemTypes);
    }

    [Theory]
    [InlineData("paths: { /x: { get: { responses: { '200': { description: ok } } } } }", "GET /x has no operationId")]
    [InlineData("paths: { /x: { get: { operationId: x, parameters: [ { $ref: '#/components/parameters/Nope' } ] } } }", "A parameter of /x has an unresolvable reference")]
    [InlineData("paths: { /x: { get: { operationId: x, responses: { '404': { $ref: '#/components/responses/Nope' } } } } }", "The response of GET /x 404 has an unresolvable reference")]
    public void Given_an_operation_without_operation_id_or_a_dangling_reference_Then_parsing_fails_naming_it(string paths, string named)
    {
        var error = Assert.Throws<InvalidOperationException>(() => OperationCatalog.Parse("openapi: 3.0.3\ninfo: { title: t, version: 1.0.0 }\n" + paths));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_text_that_is_not_an_openapi_document_Then_parsing_fails()
    {
        Assert.Throws<InvalidOperationException>(() => OperationCatalog.Parse("paths: { /x: { get: {} } }"));
    }
}
