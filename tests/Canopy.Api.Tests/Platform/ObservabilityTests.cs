using System.Net;
using System.Net.Http.Headers;
using Canopy.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Canopy.Api.Tests.Platform;

public sealed class ObservabilityTests
{
    private const string ScrapeToken = "observability-test-token";

    [Fact]
    public async Task Given_a_handler_that_throws_Then_500_problem_the_stack_trace_in_the_log_the_error_counted_and_the_next_request_served()
    {
        var logs = new CapturedLogs();
        await using var factory = ProbeApplication.Create(new Dictionary<string, string?> { ["Metrics:ScrapeToken"] = ScrapeToken }, logs.InstallInto);
        using var client = factory.CreateClient();
        var before = UnhandledCount(await ScrapeAsync(client));

        using var failed = await client.GetAsync(new Uri("/test-only/throw", UriKind.Relative));

        var problem = await ProblemAssert.IsProblemAsync(failed, HttpStatusCode.InternalServerError, "internal-error");
        var traceId = problem.GetProperty("trace_id").GetString();
        var error = await logs.WaitForAsync(l => l.GetProperty("level").GetString() == "error" && l.TryGetProperty("exception", out _), "with the exception");
        Assert.Equal(traceId, error.GetProperty("trace_id").GetString());
        var exception = error.GetProperty("exception").GetString()!;
        Assert.Contains("InvalidOperationException", exception, StringComparison.Ordinal);
        Assert.Contains("ProbeController.Throw", exception, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", exception, StringComparison.Ordinal);
        // Exactly one: other hosts of this test process count their own exceptions, not into this exposition.
        Assert.Equal(before + 1, UnhandledCount(await ScrapeAsync(client)));

        using var next = await client.GetAsync(new Uri("/health/live", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task Given_two_hosts_in_one_process_When_one_fails_Then_only_its_own_exposition_counts_it()
    {
        var settings = new Dictionary<string, string?> { ["Metrics:ScrapeToken"] = ScrapeToken };
        await using var quiet = ProbeApplication.Create(settings);
        await using var failing = ProbeApplication.Create(settings);
        using var quietClient = quiet.CreateClient();
        using var failingClient = failing.CreateClient();
        var quietBefore = UnhandledCount(await ScrapeAsync(quietClient));
        var failingBefore = UnhandledCount(await ScrapeAsync(failingClient));

        (await failingClient.GetAsync(new Uri("/test-only/throw", UriKind.Relative))).Dispose();

        Assert.Equal(failingBefore + 1, UnhandledCount(await ScrapeAsync(failingClient)));
        Assert.Equal(quietBefore, UnhandledCount(await ScrapeAsync(quietClient)));
    }

    [Fact]
    public async Task Given_an_answer_the_spec_does_not_document_Then_it_is_logged_counted_and_reported_but_still_served()
    {
        var logs = new CapturedLogs();
        var report = Path.Combine(Path.GetTempPath(), $"conformance-{Guid.NewGuid():N}.txt");
        await using var factory = ProbeApplication.Create(
            new Dictionary<string, string?> { ["Metrics:ScrapeToken"] = ScrapeToken, ["Conformance:ReportPath"] = report }, logs.InstallInto);
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("/test-only/undocumented", UriKind.Relative));
        using var documented = await client.GetAsync(new Uri("/health/live", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var line = await logs.WaitForAsync(l => l.GetProperty("level").GetString() == "error" && l.TryGetProperty("OperationId", out _), "about the undocumented answer");
        Assert.Equal("testUndocumented", line.GetProperty("OperationId").GetString());
        Assert.Equal(202, line.GetProperty("Status").GetInt32());
        Assert.Equal(["testUndocumented GET /test-only/undocumented answered 202 (no body)"], await File.ReadAllLinesAsync(report));
        Assert.Matches("canopy_contract_undocumented_responses\\{operation=\"testUndocumented\",status=\"202\"\\} 1", await ScrapeAsync(client));
        File.Delete(report);
    }

    [Fact]
    public async Task Given_an_incoming_traceparent_Then_the_trace_continues_into_the_problem_and_the_request_log()
    {
        var logs = new CapturedLogs();
        await using var factory = ProbeApplication.Create(more: logs.InstallInto);
        using var client = factory.CreateClient();
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        using var request = new HttpRequestMessage(HttpMethod.Get, "/test-only/items?limit=0&token=s3cr3t-query-value");
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");

        using var response = await client.SendAsync(request);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal(traceId, problem.GetProperty("trace_id").GetString());
        var line = await logs.WaitForAsync(l => l.TryGetProperty("http_route", out _), "for the request");
        Assert.Equal(traceId, line.GetProperty("trace_id").GetString());
        Assert.Equal(16, line.GetProperty("span_id").GetString()!.Length);
        Assert.Equal("GET", line.GetProperty("http_method").GetString());
        Assert.Equal("/test-only/items", line.GetProperty("http_route").GetString());
        Assert.Equal(400, line.GetProperty("http_status").GetInt32());
        Assert.Equal("malformed-request", line.GetProperty("problem_type").GetString());
        Assert.True(line.GetProperty("duration_ms").GetDouble() >= 0);
        Assert.EndsWith("Z", line.GetProperty("timestamp").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t-query-value", logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_signed_in_caller_Then_log_lines_of_the_request_carry_tenant_and_user()
    {
        var logs = new CapturedLogs();
        var tenant = Guid.CreateVersion7();
        var user = Guid.CreateVersion7();
        await using var factory = ProbeApplication.Create(more: services =>
        {
            logs.InstallInto(services);
            services.AddSingleton<Microsoft.AspNetCore.Hosting.IStartupFilter>(new SignedInAs(tenant, user));
        });
        using var client = factory.CreateClient();

        (await client.GetAsync(new Uri("/test-only/items", UriKind.Relative))).Dispose();

        var line = await logs.WaitForAsync(l => l.TryGetProperty("http_route", out _), "for the request");
        Assert.Equal(tenant.ToString(), line.GetProperty("tenant_id").GetString());
        Assert.Equal(user.ToString(), line.GetProperty("user_id").GetString());
    }

    [Fact]
    public async Task Given_traffic_Then_metrics_expose_request_durations_by_route_pool_redis_errors_and_runtime()
    {
        await using var factory = ProbeApplication.Create(new Dictionary<string, string?> { ["Metrics:ScrapeToken"] = ScrapeToken });
        using var client = factory.CreateClient();
        (await client.GetAsync(new Uri("/health/ready", UriKind.Relative))).Dispose();
        (await client.GetAsync(new Uri("/nowhere", UriKind.Relative))).Dispose();

        var text = await ScrapeAsync(client);

        Assert.Contains("# TYPE microsoft_aspnetcore_hosting_http_server_request_duration histogram", text, StringComparison.Ordinal);
        Assert.Matches("microsoft_aspnetcore_hosting_http_server_request_duration_bucket\\{[^}]*http_response_status_code=\"200\"[^}]*http_route=\"health/ready\"[^}]*le=\"\\+Inf\"\\} 1", text);
        Assert.Contains("# TYPE microsoft_aspnetcore_hosting_http_server_active_requests gauge", text, StringComparison.Ordinal);
        Assert.Matches($"npgsql_db_client_connection_max\\{{db_client_connection_pool_name=\"{factory.PoolName}\"\\}} 50", text);
        Assert.Matches($"canopy_db_pool_connections\\{{db_client_connection_pool_name=\"{factory.PoolName}\",db_client_connection_state=\"used\"\\}} 0", text);
        Assert.Matches("canopy_redis_command_duration_count\\{command=\"PING\",outcome=\"ok\"\\} [1-9]", text);
        // Problems are counted by the request-duration histogram, tagged with their type.
        Assert.Matches("microsoft_aspnetcore_hosting_http_server_request_duration_count\\{[^}]*http_response_status_code=\"404\"[^}]*problem_type=\"not-found\"[^}]*\\} [1-9]", text);
        Assert.Contains("system_runtime_dotnet_gc_collections", text, StringComparison.Ordinal);
        Assert.Contains("process_start_time_seconds", text, StringComparison.Ordinal);
        Assert.Contains("canopy_build_info{version=\"1.0.0\"} 1", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_statement_slower_than_the_threshold_Then_it_is_logged_as_warn_with_its_parameterised_sql_only()
    {
        var logs = new CapturedLogs();
        await using var factory = ProbeApplication.Create(new Dictionary<string, string?> { ["Postgres:SlowQueryMilliseconds"] = "100" }, logs.InstallInto);
        using var client = factory.CreateClient();
        var dataSource = factory.Services.GetRequiredService<NpgsqlDataSource>();

        await using (var fast = dataSource.CreateCommand("SELECT 'fast-statement'"))
        {
            await fast.ExecuteScalarAsync();
        }

        await using (var slow = dataSource.CreateCommand("SELECT pg_sleep(0.25), $1::text AS slow_marker"))
        {
            slow.Parameters.Add(new NpgsqlParameter { Value = "parameter-value-never-logged" });
            await slow.ExecuteScalarAsync();
        }

        var warning = await logs.WaitForAsync(l => l.TryGetProperty("sql", out var sql) && sql.GetString()!.Contains("slow_marker", StringComparison.Ordinal), "for the slow statement");
        Assert.Equal("warn", warning.GetProperty("level").GetString());
        Assert.Contains("$1::text", warning.GetProperty("sql").GetString(), StringComparison.Ordinal);
        Assert.True(warning.GetProperty("duration_ms").GetDouble() >= 250);
        Assert.DoesNotContain("parameter-value-never-logged", logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("fast-statement", logs.Text, StringComparison.Ordinal);
    }

    /// <summary>Stands in for authentication (a later module): the principal carries tid and sub claims.</summary>
    private sealed class SignedInAs(Guid tenant, Guid user) : Microsoft.AspNetCore.Hosting.IStartupFilter
    {
        public Action<Microsoft.AspNetCore.Builder.IApplicationBuilder> Configure(Action<Microsoft.AspNetCore.Builder.IApplicationBuilder> next) => app =>
        {
            app.Use((context, following) =>
            {
                context.User = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity(
                    [new System.Security.Claims.Claim("tid", tenant.ToString()), new System.Security.Claims.Claim("sub", user.ToString())], "test"));
                return following(context);
            });
            next(app);
        };
    }

    private static double UnhandledCount(string exposition)
    {
        var series = System.Text.RegularExpressions.Regex.Match(exposition, "canopy_unhandled_exceptions\\{source=\"http\"\\} (\\S+)");
        return series.Success ? double.Parse(series.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    private static async Task<string> ScrapeAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ScrapeToken);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }
}
