using System.Net;
using System.Text;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Platform;

public sealed class ErrorTests : IAsyncLifetime
{
    private const string ValidItem = """{"name":"North greenhouse","latitude":52.1,"kind":"greenhouse"}""";
    private readonly CanopyApiFactory _factory = ProbeApplication.Create();
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _client = _factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    [Fact]
    public async Task Given_a_valid_body_Then_the_probe_accepts_it()
    {
        using var response = await PostJson("/test-only/items", ValidItem);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task Given_a_wrong_method_Then_405_problem_with_allow()
    {
        using var response = await _client.DeleteAsync(new Uri("/health/live", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal(["GET"], response.Content.Headers.Allow);
    }

    [Fact]
    public async Task Given_a_body_that_is_not_json_Then_415_problem()
    {
        using var response = await _client.PostAsync(new Uri("/test-only/items", UriKind.Relative), new StringContent("name=x", Encoding.UTF8, "text/plain"));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Fact]
    public async Task Given_a_body_over_the_operations_limit_Then_413_problem_and_at_the_limit_it_passes()
    {
        var envelope = """{"data":""}""".Length;
        using var atLimit = await PostJson("/test-only/upload", $$"""{"data":"{{new string('a', 2048 - envelope)}}"}""");
        using var overLimit = await PostJson("/test-only/upload", $$"""{"data":"{{new string('a', 2049 - envelope)}}"}""");

        Assert.Equal(HttpStatusCode.OK, atLimit.StatusCode);
        var problem = await ProblemAssert.IsProblemAsync(overLimit, HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        Assert.Contains("2048", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_body_over_the_default_limit_Then_413_problem()
    {
        using var response = await PostJson("/test-only/items", $$"""{"name":"{{new string('n', 1_048_577)}}","latitude":1,"kind":"field"}""");

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
    }

    [Theory]
    [InlineData("""{"name":"x","latitude":1,""", "#")]
    [InlineData("""{"name":"x","latitude":"north","kind":"field"}""", "#/latitude")]
    [InlineData("""{"name":"x","latitude":1,"kind":"orchard"}""", "#/kind")]
    [InlineData("""{"name":"x","latitude":1,"kind":"field","location":{"time_zone":7}}""", "#/location/time_zone")]
    [InlineData("", "#")]
    public async Task Given_malformed_json_or_a_wrong_type_Then_400_problem_pointing_at_it(string body, string expectedPointer)
    {
        using var response = await PostJson("/test-only/items", body);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
        Assert.Contains(ProblemAssert.Errors(problem), e => e.Pointer == expectedPointer);
    }

    [Fact]
    public async Task Given_missing_required_members_Then_422_problem_with_one_error_each()
    {
        using var response = await PostJson("/test-only/items", """{"latitude":1}""");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation-failed");
        var pointers = ProblemAssert.Errors(problem).Select(e => e.Pointer).ToList();
        Assert.Contains("#/name", pointers);
        Assert.Contains("#/kind", pointers);
    }

    [Fact]
    public async Task Given_an_unknown_member_Then_422_problem_pointing_at_it()
    {
        using var response = await PostJson("/test-only/items", """{"name":"x","latitude":1,"kind":"field","owner":"someone"}""");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Contains(ProblemAssert.Errors(problem), e => e.Pointer == "#/owner");
    }

    [Theory]
    [InlineData("90.0", HttpStatusCode.Created)]
    [InlineData("-90.0", HttpStatusCode.Created)]
    [InlineData("90.0001", HttpStatusCode.UnprocessableEntity)]
    [InlineData("-90.5", HttpStatusCode.UnprocessableEntity)]
    public async Task Given_a_value_at_and_past_the_schemas_range_Then_only_past_it_is_422(string latitude, HttpStatusCode expected)
    {
        using var response = await PostJson("/test-only/items", $$"""{"name":"x","latitude":{{latitude}},"kind":"field"}""");

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.UnprocessableEntity)
        {
            var problem = await ProblemAssert.IsProblemAsync(response, expected, "validation-failed");
            Assert.Contains(ProblemAssert.Errors(problem), e => e.Pointer == "#/latitude");
        }
    }

    [Fact]
    public async Task Given_a_fluent_validation_rule_broken_Then_422_problem_with_json_pointers_and_no_controller_logic()
    {
        using var response = await PostJson("/test-only/items", """{"name":"forbidden zone","latitude":1,"kind":"field","location":{"time_zone":"Mars/Olympus"}}""");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation-failed");
        var pointers = ProblemAssert.Errors(problem).Select(e => e.Pointer).ToList();
        Assert.Equal(["#/name", "#/location/time_zone"], pointers);
    }

    [Fact]
    public async Task Given_a_malformed_uuid_in_the_path_Then_400_problem_naming_the_parameter()
    {
        using var response = await _client.GetAsync(new Uri("/test-only/items/not-a-uuid", UriKind.Relative));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
        Assert.Contains(ProblemAssert.Errors(problem), e => e.Parameter == "item_id" && e.In == "path");
    }

    [Theory]
    [InlineData("limit=1", HttpStatusCode.OK)]
    [InlineData("limit=200", HttpStatusCode.OK)]
    [InlineData("limit=0", HttpStatusCode.BadRequest)]
    [InlineData("limit=201", HttpStatusCode.BadRequest)]
    [InlineData("limit=ten", HttpStatusCode.BadRequest)]
    [InlineData("name_prefix=", HttpStatusCode.BadRequest)]
    [InlineData("cursor=has%20space", HttpStatusCode.BadRequest)]
    public async Task Given_query_values_at_and_past_the_specs_constraints_Then_past_them_is_400(string query, HttpStatusCode expected)
    {
        using var response = await _client.GetAsync(new Uri("/test-only/items?" + query, UriKind.Relative));

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.BadRequest)
        {
            var problem = await ProblemAssert.IsProblemAsync(response, expected, "malformed-request");
            Assert.Contains(ProblemAssert.Errors(problem), e => e.In == "query" && query.StartsWith(e.Parameter + "=", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Given_a_cursor_Then_it_pages_and_a_tampered_or_foreign_one_is_400()
    {
        using var first = await _client.GetAsync(new Uri("/test-only/items?name_prefix=gr", UriKind.Relative));
        var cursor = System.Text.Json.JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement.GetProperty("next_cursor").GetString()!;
        var tampered = cursor[..^2] + (cursor[^2] == 'A' ? "B" : "A") + cursor[^1];

        using var next = await _client.GetAsync(new Uri($"/test-only/items?name_prefix=gr&cursor={cursor}", UriKind.Relative));
        using var altered = await _client.GetAsync(new Uri($"/test-only/items?name_prefix=gr&cursor={tampered}", UriKind.Relative));
        using var otherFilters = await _client.GetAsync(new Uri($"/test-only/items?name_prefix=fi&cursor={cursor}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        foreach (var refused in new[] { altered, otherFilters })
        {
            var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.BadRequest, "malformed-request");
            Assert.Contains(ProblemAssert.Errors(problem), e => e.Parameter == "cursor");
        }
    }

    [Fact]
    public async Task Given_if_match_missing_stale_or_current_Then_428_412_or_success_with_the_new_etag()
    {
        var id = Guid.CreateVersion7();
        using var missing = await Post($"/test-only/items/{id}/rename", ifMatch: null);
        using var stale = await Post($"/test-only/items/{id}/rename", ifMatch: "\"2\"");
        using var weak = await Post($"/test-only/items/{id}/rename", ifMatch: "W/\"3\"");
        using var current = await Post($"/test-only/items/{id}/rename", ifMatch: "\"3\"");

        await ProblemAssert.IsProblemAsync(missing, (HttpStatusCode)428, "precondition-required");
        await ProblemAssert.IsProblemAsync(stale, HttpStatusCode.PreconditionFailed, "precondition-failed");
        await ProblemAssert.IsProblemAsync(weak, HttpStatusCode.PreconditionFailed, "precondition-failed");
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        Assert.Equal("\"4\"", current.Headers.ETag?.ToString());
    }

    [Fact]
    public async Task Given_an_illegal_transition_Then_409_problem_with_its_extra_members()
    {
        using var response = await Post($"/test-only/items/{Guid.CreateVersion7()}/activate", ifMatch: null);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Conflict, "conflict");
        Assert.Equal("DECOMMISSIONED", problem.GetProperty("current_state").GetString());
        Assert.Equal(0, problem.GetProperty("allowed_verbs").GetArrayLength());
    }

    [Fact]
    public async Task Given_hostile_input_to_every_kind_of_failure_Then_no_body_reveals_internals()
    {
        var hostile = "'; DROP TABLE devices; -- <script>alert(1)</script> ${jndi:ldap://x} %00 ../../etc/passwd";
        var requests = new List<HttpRequestMessage>
        {
            new(HttpMethod.Get, "/api/v1/" + Uri.EscapeDataString(hostile)),
            new(HttpMethod.Put, "/health/ready"),
            new(HttpMethod.Post, "/test-only/items") { Content = new StringContent(hostile, Encoding.UTF8, "application/json") },
            new(HttpMethod.Post, "/test-only/items") { Content = new StringContent($$"""{"name":{{System.Text.Json.JsonSerializer.Serialize(hostile)}},"latitude":"{{hostile.Replace("\"", "", StringComparison.Ordinal)}}","kind":"field"}""", Encoding.UTF8, "application/json") },
            new(HttpMethod.Post, "/test-only/items") { Content = new StringContent(hostile, Encoding.UTF8, "application/xml") },
            new(HttpMethod.Get, "/test-only/items/" + Uri.EscapeDataString(hostile)),
            new(HttpMethod.Get, "/test-only/items?limit=" + Uri.EscapeDataString(hostile)),
            new(HttpMethod.Get, "/test-only/items?cursor=" + Uri.EscapeDataString(hostile)),
            new(HttpMethod.Get, "/test-only/throw"),
            new(HttpMethod.Get, "/metrics"),
        };

        foreach (var request in requests)
        {
            request.Headers.TryAddWithoutValidation("If-Match", hostile);
            using var response = await _client.SendAsync(request);
            // instance is the request path by definition (RFC 9457), JSON-escaped: the caller's own input.
            var parsed = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
            parsed.Remove("instance");
            var body = parsed.ToJsonString();

            Assert.True((int)response.StatusCode >= 400, $"{request.Method} {request.RequestUri} answered {(int)response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            foreach (var leak in new[] { "Exception", "   at ", "System.", "Microsoft.", "Npgsql", "StackExchange", "Canopy.Api", "Canopy.Platform", ".cs:line", "SELECT ", "DROP TABLE", "script", "jndi", "hunter2", "db.internal", "127.0.0.1", "localhost", Environment.MachineName })
            {
                Assert.False(body.Contains(leak, StringComparison.Ordinal), $"{request.Method} {request.RequestUri} leaks '{leak}': {body}");
            }
        }
    }

    private Task<HttpResponseMessage> PostJson(string path, string body) =>
        _client.PostAsync(new Uri(path, UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));

    private Task<HttpResponseMessage> Post(string path, string? ifMatch)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        return _client.SendAsync(request);
    }
}
