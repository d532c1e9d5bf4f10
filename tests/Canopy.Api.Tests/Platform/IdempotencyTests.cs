using System.Net;
using System.Net.Http.Json;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;
using StackExchange.Redis;

namespace Canopy.Api.Tests.Platform;

public sealed class IdempotencyTests : IClassFixture<IdentityHost>
{
    private readonly IdentityApi _api;

    public IdempotencyTests(IdentityHost host) => _api = new IdentityApi(host.Factory.CreateClient());

    [Fact]
    public async Task Given_50_identical_requests_at_once_with_one_key_Then_exactly_one_effect_and_the_others_are_409_or_the_replay()
    {
        var key = Guid.NewGuid().ToString();
        var body = SignUp(IdentityApi.NewEmail(), "Fifty Farms " + key);

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Post("/api/v1/sign-ups", body, key)));

        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.tenants WHERE name = $1", "Fifty Farms " + key));
        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created && !r.Headers.Contains("Idempotent-Replayed"));
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.Created), r => Assert.Equal(HttpStatusCode.Conflict, r.StatusCode));
        Assert.All(responses.Where(r => r.Headers.Contains("Idempotent-Replayed")), r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Given_a_finished_request_Then_a_retry_replays_it_byte_for_byte_and_a_quoted_key_is_the_same_key()
    {
        var key = Guid.NewGuid().ToString();
        var body = SignUp(IdentityApi.NewEmail(), "Replay Farms " + key);

        using var first = await Post("/api/v1/sign-ups", body, key);
        using var retry = await Post("/api/v1/sign-ups", body, $"\"{key}\"");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await retry.Content.ReadAsByteArrayAsync());
        Assert.Equal(first.Headers.Location, retry.Headers.Location);
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.tenants WHERE name = $1", "Replay Farms " + key));
    }

    [Fact]
    public async Task Given_the_same_key_with_another_body_Then_422_and_no_second_effect()
    {
        var key = Guid.NewGuid().ToString();
        using var first = await Post("/api/v1/sign-ups", SignUp(IdentityApi.NewEmail(), "First Farms " + key), key);

        using var other = await Post("/api/v1/sign-ups", SignUp(IdentityApi.NewEmail(), "Other Farms " + key), key);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        await ProblemAssert.IsProblemAsync(other, HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.tenants WHERE name = $1", "Other Farms " + key));
    }

    [Fact]
    public async Task Given_a_4xx_answer_Then_it_is_kept_and_replayed_too()
    {
        var key = Guid.NewGuid().ToString();
        var body = new { organization_name = "Short Farms", email = IdentityApi.NewEmail(), password = "too-short", display_name = "Sam" };

        using var first = await Post("/api/v1/sign-ups", body, key);
        using var retry = await Post("/api/v1/sign-ups", body, key);

        await ProblemAssert.IsProblemAsync(first, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, retry.StatusCode);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(await first.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(255, HttpStatusCode.Created)]
    [InlineData(256, HttpStatusCode.BadRequest)]
    public async Task Given_a_key_of_a_boundary_length_Then_only_up_to_255_characters_are_accepted(int length, HttpStatusCode expected)
    {
        using var response = await Post("/api/v1/sign-ups", SignUp(IdentityApi.NewEmail(), "Long Key Farms"), new string('k', length - 8) + Guid.NewGuid().ToString("N")[..8]);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task Given_redis_flushed_between_the_request_and_its_retry_Then_the_retry_replays_from_postgresql_with_one_effect()
    {
        using var redis = new DisposableRedis();
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis.ConnectionString });
        var api = new IdentityApi(factory.CreateClient());
        var key = Guid.NewGuid().ToString();
        var body = SignUp(IdentityApi.NewEmail(), "Flushed Farms " + key);

        using var first = await Send(api.Client, "/api/v1/sign-ups", body, key);
        using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true"))
        {
            await connection.GetServer(connection.GetEndPoints()[0]).FlushAllDatabasesAsync();
        }

        using var retry = await Send(api.Client, "/api/v1/sign-ups", body, key);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await retry.Content.ReadAsByteArrayAsync());
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.tenants WHERE name = $1", "Flushed Farms " + key));
    }

    [Fact]
    public async Task Given_redis_flushed_and_the_key_reused_for_another_body_Then_that_refusal_is_not_kept_and_the_first_request_still_replays()
    {
        using var redis = new DisposableRedis();
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis.ConnectionString });
        var client = factory.CreateClient();
        var key = Guid.NewGuid().ToString();
        var body = SignUp(IdentityApi.NewEmail(), "Guarded Farms " + key);

        using var first = await Send(client, "/api/v1/sign-ups", body, key);
        await FlushAsync(redis);
        using var other = await Send(client, "/api/v1/sign-ups", SignUp(IdentityApi.NewEmail(), "Intruder Farms " + key), key);
        using var retry = await Send(client, "/api/v1/sign-ups", body, key);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        await ProblemAssert.IsProblemAsync(other, HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.tenants WHERE name = $1", "Intruder Farms " + key));
    }

    private static async Task FlushAsync(DisposableRedis redis)
    {
        using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
        await connection.GetServer(connection.GetEndPoints()[0]).FlushAllDatabasesAsync();
    }

    [Fact]
    public async Task Given_a_5xx_answer_Then_nothing_is_kept_and_the_retry_runs_again()
    {
        await using var factory = ProbeApplication.Create();
        using var client = factory.CreateClient();
        var key = Guid.NewGuid().ToString();
        var body = new { marker = key };

        using var failed = await Send(client, "/test-only/flaky", body, key);
        using var retried = await Send(client, "/test-only/flaky", body, key);

        await ProblemAssert.IsProblemAsync(failed, HttpStatusCode.InternalServerError, "internal-error");
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.False(retried.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(2, ProbeController.FlakyRuns[key]);
    }

    private static object SignUp(string email, string organisation) =>
        new { organization_name = organisation, email, password = IdentityApi.Password, display_name = "Sam Okafor" };

    private Task<HttpResponseMessage> Post(string path, object body, string key) => Send(_api.Client, path, body, key);

    private static Task<HttpResponseMessage> Send(HttpClient client, string path, object body, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        return client.SendAsync(request);
    }
}
