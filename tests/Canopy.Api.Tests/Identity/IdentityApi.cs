using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Canopy.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Canopy.Api.Tests.Identity;

/// <summary>A signed-up organisation's owner, as the tests use it.</summary>
internal sealed record Account(string Email, string Password, Guid TenantId, Guid UserId, Guid MemberId);

internal sealed record Tokens(string Access, string Refresh);

/// <summary>The Identity operations, called over HTTP as a client would.</summary>
internal sealed class IdentityApi(HttpClient client)
{
    public const string Password = "tomatoes-need-warmth-42";

    public HttpClient Client { get; } = client;

    public static string NewEmail(string who = "grower") => $"{who}.{Guid.NewGuid():N}@farm.example";

    public Task<HttpResponseMessage> SignUpAsync(string email, string password = Password, string organisation = "Green Valley Farms") =>
        PostAsync("/api/v1/sign-ups", new { organization_name = organisation, email, password, display_name = "María López" }, idempotencyKey: Guid.NewGuid().ToString());

    public async Task<Account> NewAccountAsync(string? email = null)
    {
        email ??= NewEmail();
        using var response = await SignUpAsync(email);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await Json(response);
        return new Account(email, Password, body.GetProperty("tenant_id").GetGuid(), body.GetProperty("user_id").GetGuid(), body.GetProperty("member_id").GetGuid());
    }

    public Task<HttpResponseMessage> SignInAsync(string email, string password = Password, string? fingerprint = null) =>
        PostAsync("/api/v1/auth/tokens", fingerprint is null ? new { email, password } : new { email, password, device_fingerprint = fingerprint });

    public async Task<Tokens> TokensAsync(string email, string password = Password)
    {
        using var response = await SignInAsync(email, password);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await ReadTokens(response);
    }

    public Task<HttpResponseMessage> RefreshAsync(string refreshToken) => PostAsync("/api/v1/auth/tokens/refresh", new { refresh_token = refreshToken });

    public Task<HttpResponseMessage> GetAsync(string path, string? accessToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }

        return Client.SendAsync(request);
    }

    public Task<HttpResponseMessage> PostAsync(string path, object? body, string? accessToken = null, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        if (accessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }

        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return Client.SendAsync(request);
    }

    public static async Task<Tokens> ReadTokens(HttpResponseMessage response)
    {
        var body = await Json(response);
        return new Tokens(body.GetProperty("access_token").GetString()!, body.GetProperty("refresh_token").GetString()!);
    }

    public static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    /// <summary>A query as the owner role with every tenant visible (assertions on stored state).</summary>
    public static async Task<T?> ScalarAsync<T>(string sql, params object[] parameters)
    {
        var (connection, tx) = await OwnerTransactionAsync();
        await using (connection)
        await using (tx)
        {
            await using var command = Command(sql, connection, tx, parameters);
            var result = await command.ExecuteScalarAsync();
            return result is null or DBNull ? default : (T)result;
        }
    }

    /// <summary>A change as the owner role with every tenant visible (arranging state a test needs).</summary>
    public static async Task<int> ExecuteAsOwnerAsync(string sql, params object[] parameters)
    {
        var (connection, tx) = await OwnerTransactionAsync();
        await using (connection)
        await using (tx)
        {
            await using var command = Command(sql, connection, tx, parameters);
            var count = await command.ExecuteNonQueryAsync();
            await tx.CommitAsync();
            return count;
        }
    }

    private static async Task<(NpgsqlConnection Connection, NpgsqlTransaction Transaction)> OwnerTransactionAsync()
    {
        var connection = new NpgsqlConnection(TestServers.PostgresOwnerConnectionString);
        await connection.OpenAsync();
        var tx = await connection.BeginTransactionAsync();
        await using var scope = new NpgsqlCommand("SELECT set_config('app.scope', 'platform', true)", connection, tx);
        await scope.ExecuteScalarAsync();
        return (connection, tx);
    }

    private static NpgsqlCommand Command(string sql, NpgsqlConnection connection, NpgsqlTransaction tx, object[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection, tx);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return command;
    }
}

/// <summary>A clock the test moves; the service reads time only through TimeProvider.</summary>
internal sealed class TestClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Set(DateTimeOffset at) => Interlocked.Exchange(ref _ticks, at.UtcTicks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

internal static class IdentityHosts
{
    /// <summary>What the delivery of an invitation would read: its token, decrypted from the outbox event.</summary>
    public static async Task<string> InvitationTokenAsync(CanopyApiFactory factory, Guid invitationId)
    {
        var payload = await IdentityApi.ScalarAsync<string>(
            "SELECT payload::text FROM platform.outbox WHERE aggregate_id = $1 AND type = 'invitation.created'", invitationId);
        var cipher = System.Text.Json.JsonDocument.Parse(payload!).RootElement.GetProperty("token_cipher").GetBytesFromBase64();
        return factory.Services.GetRequiredService<Canopy.Identity.Security.PiiProtector>().Decrypt(cipher);
    }

    /// <summary>A host whose clock the test controls.</summary>
    public static CanopyApiFactory WithClock(TestClock clock) => new(configureServices: services => services.AddSingleton<TimeProvider>(clock));
}

/// <summary>One in-memory host shared by the tests of a class.</summary>
public sealed class IdentityHost : IAsyncLifetime
{
    internal CanopyApiFactory Factory { get; } = new();

    /// <summary>What the delivery of an invitation would read: its token, decrypted from the outbox event.</summary>
    internal Task<string> InvitationTokenAsync(Guid invitationId) => IdentityHosts.InvitationTokenAsync(Factory, invitationId);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}
