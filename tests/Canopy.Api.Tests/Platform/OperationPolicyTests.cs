using System.Net;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Platform.Spec;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Platform;

public sealed class OperationPolicyTests
{
    [Fact]
    public async Task Given_a_deprecated_operation_Then_it_answers_as_before_with_deprecation_sunset_and_link()
    {
        await using var factory = ProbeApplication.Create();
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("/test-only/old", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("@" + new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), response.Headers.GetValues("Deprecation").Single());
        Assert.Equal("Sat, 01 May 2027 12:00:00 GMT", response.Headers.GetValues("Sunset").Single());
        Assert.Equal("<https://canopy.dev/docs/deprecations#testOld>; rel=\"deprecation\"", response.Headers.GetValues("Link").Single());
        Assert.Equal("{\"still\":\"working\"}", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Given_a_cache_ttl_Then_a_success_may_be_kept_that_long_and_a_problem_is_never_kept()
    {
        await using var factory = ProbeApplication.Create();
        using var client = factory.CreateClient();

        using var success = await client.GetAsync(new Uri("/test-only/cached", UriKind.Relative));
        using var failure = await client.GetAsync(new Uri("/test-only/cached?fail=true", UriKind.Relative));
        using var uncached = await client.GetAsync(new Uri("/test-only/old", UriKind.Relative));

        Assert.True(success.Headers.CacheControl!.Private);
        Assert.Equal(TimeSpan.FromSeconds(30), success.Headers.CacheControl.MaxAge);
        Assert.False(success.Headers.CacheControl.NoStore);
        Assert.True(failure.Headers.CacheControl!.NoStore);
        Assert.Null(failure.Headers.CacheControl.MaxAge);
        Assert.True(uncached.Headers.CacheControl!.NoStore);
    }

    [Fact]
    public async Task Given_a_flag_that_is_off_Then_the_operation_is_404_unless_a_listed_tenant_dark_launches_it()
    {
        await using var identity = new CanopyApiFactory();
        var api = new IdentityApi(identity.CreateClient());
        var listed = await api.NewAccountAsync();
        var other = await api.NewAccountAsync();
        var listedToken = (await api.TokensAsync(listed.Email)).Access;
        var otherToken = (await api.TokensAsync(other.Email)).Access;
        await using var factory = ProbeApplication.Create(new Dictionary<string, string?> { ["FeatureFlags:preview_reports:DarkLaunchTenants:0"] = listed.TenantId.ToString() });
        using var client = factory.CreateClient();

        using var plain = await Get(client, listedToken, flagHeader: false);
        using var darkLaunched = await Get(client, listedToken, flagHeader: true);
        using var notListed = await Get(client, otherToken, flagHeader: true);

        await ProblemAssert.IsProblemAsync(plain, HttpStatusCode.NotFound, "not-found");
        Assert.Equal(HttpStatusCode.OK, darkLaunched.StatusCode);
        // Switched off, it answers anyone like an unknown address: not 401 to the anonymous.
        using var anonymous = await client.GetAsync(new Uri("/test-only/preview", UriKind.Relative));
        await ProblemAssert.IsProblemAsync(anonymous, HttpStatusCode.NotFound, "not-found");
        await ProblemAssert.IsProblemAsync(notListed, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Given_a_flag_that_is_on_Then_everyone_signed_in_reaches_the_operation()
    {
        await using var identity = new CanopyApiFactory();
        var api = new IdentityApi(identity.CreateClient());
        var account = await api.NewAccountAsync();
        var token = (await api.TokensAsync(account.Email)).Access;
        await using var factory = ProbeApplication.Create(new Dictionary<string, string?> { ["FeatureManagement:preview_reports"] = "true" });
        using var client = factory.CreateClient();

        using var response = await Get(client, token, flagHeader: false);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("x-idempotency: sometimes", "x-idempotency 'sometimes'")]
    [InlineData("x-rate-limit-tier: premium", "x-rate-limit-tier 'premium'")]
    [InlineData("x-roles: superuser", "x-roles 'superuser'")]
    [InlineData("x-feature-flag: never_declared", "x-feature-flag 'never_declared'")]
    [InlineData("deprecated: true", "testCreateItem is deprecated without x-deprecated-at and x-sunset")]
    [InlineData("x-cache-ttl: 30", "x-cache-ttl '30' must be whole seconds from 1 to 86400, on a GET")]
    public void Given_a_policy_value_the_service_does_not_know_Then_it_refuses_to_start_naming_it(string policy, string named)
    {
        var spec = ProbeApplication.Spec.Replace("      operationId: testCreateItem", "      operationId: testCreateItem\n      " + policy, StringComparison.Ordinal);
        using var factory = ProbeApplication.Create(more: s => s.AddSingleton(OperationCatalog.Parse(ProbeApplication.WithRealSpec(spec))));

        var error = Assert.ThrowsAny<InvalidOperationException>(() => factory.CreateClient());

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_served_api_operation_without_its_roles_Then_the_service_refuses_to_start()
    {
        await using var stream = typeof(Program).Assembly.GetManifestResourceStream("Canopy.Api.openapi.yaml")!;
        var spec = await new StreamReader(stream).ReadToEndAsync();
        var me = spec.IndexOf("operationId: getMe\n", StringComparison.Ordinal);
        var roles = spec.IndexOf("      x-roles: any\n", me, StringComparison.Ordinal);
        spec = spec.Remove(roles, "      x-roles: any\n".Length);
        await using var factory = new CanopyApiFactory(configureServices: s => s.AddSingleton(OperationCatalog.Parse(spec)));

        var error = Assert.ThrowsAny<InvalidOperationException>(() => factory.CreateClient());

        Assert.Contains("getMe has no x-roles", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_an_api_route_the_spec_does_not_describe_Then_the_service_refuses_to_start_rather_than_serve_it_unguarded()
    {
        await using var stream = typeof(Program).Assembly.GetManifestResourceStream("Canopy.Api.openapi.yaml")!;
        var spec = await new StreamReader(stream).ReadToEndAsync();
        spec = spec.Replace("operationId: getMe\n", "operationId: getMeRenamed\n", StringComparison.Ordinal);
        await using var factory = new CanopyApiFactory(configureServices: s => s.AddSingleton(OperationCatalog.Parse(spec)));

        var error = Assert.ThrowsAny<InvalidOperationException>(() => factory.CreateClient());

        Assert.Contains("GET api/v1/me is served but its operation getMe is not in the spec", error.Message, StringComparison.Ordinal);
    }

    private static Task<HttpResponseMessage> Get(HttpClient client, string token, bool flagHeader)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/test-only/preview");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        if (flagHeader)
        {
            request.Headers.Add("X-Feature-Flag", "preview_reports");
        }

        return client.SendAsync(request);
    }
}
