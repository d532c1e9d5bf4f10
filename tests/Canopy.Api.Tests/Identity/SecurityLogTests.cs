using Canopy.Api.Tests.Infrastructure;
using Canopy.Identity.Audit;
using Canopy.Platform.Tenancy;
using Npgsql;

namespace Canopy.Api.Tests.Identity;

public sealed class SecurityLogTests : IClassFixture<IdentityHost>
{
    private readonly IdentityApi _api;

    public SecurityLogTests(IdentityHost host) => _api = new IdentityApi(host.Factory.CreateClient());

    [Fact]
    public async Task Given_an_untouched_log_Then_the_chain_verifies_and_admins_read_it_newest_first()
    {
        var account = await _api.NewAccountAsync();
        var tokens = await _api.TokensAsync(account.Email);
        using (await _api.SignInAsync(account.Email, "a-wrong-password-here"))
        {
        }

        using var page = await _api.GetAsync("/api/v1/security-events?limit=2", tokens.Access);

        var body = await IdentityApi.Json(page);
        Assert.Equal(["login_failed", "login_succeeded"], body.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToList());
        Assert.True(body.GetProperty("has_more").GetBoolean());
        Assert.Empty(await VerifyAsync(account.TenantId));
    }

    [Fact]
    public async Task Given_an_edited_entry_Then_verification_names_it()
    {
        var account = await _api.NewAccountAsync();
        await _api.TokensAsync(account.Email);

        await IdentityApi.ExecuteAsOwnerAsync("UPDATE identity.security_events SET kind = 'logged_out' WHERE tenant_id = $1 AND chain_seq = 2", account.TenantId);

        var broken = await VerifyAsync(account.TenantId);
        Assert.Contains(broken, b => b.ChainSeq == 2 && b.Reason.Contains("hash", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Given_a_deleted_entry_Then_verification_finds_the_gap()
    {
        var account = await _api.NewAccountAsync();
        await _api.TokensAsync(account.Email);
        await _api.TokensAsync(account.Email);

        await IdentityApi.ExecuteAsOwnerAsync("DELETE FROM identity.security_events WHERE tenant_id = $1 AND chain_seq = 2", account.TenantId);

        var broken = await VerifyAsync(account.TenantId);
        Assert.Contains(broken, b => b.ChainSeq == 3);
    }

    [Fact]
    public async Task Given_the_application_role_Then_it_can_neither_update_nor_delete_log_entries()
    {
        var account = await _api.NewAccountAsync();

        var update = await Assert.ThrowsAsync<PostgresException>(() => AsApplication(account.TenantId, "UPDATE identity.security_events SET kind = 'erased'"));
        var delete = await Assert.ThrowsAsync<PostgresException>(() => AsApplication(account.TenantId, "DELETE FROM identity.security_events"));

        Assert.Equal("42501", update.SqlState);
        Assert.Equal("42501", delete.SqlState);
    }

    private static async Task<IReadOnlyList<BrokenLink>> VerifyAsync(Guid tenant)
    {
        await using var connection = new NpgsqlConnection(TestServers.PostgresConnectionString);
        await connection.OpenAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await TenantSession.ApplyAsync(connection, tx, tenant, CancellationToken.None);
        return await SecurityLog.VerifyAsync(connection, tx, tenant, CancellationToken.None);
    }

    private static async Task AsApplication(Guid tenant, string sql)
    {
        await using var connection = new NpgsqlConnection(TestServers.PostgresConnectionString);
        await connection.OpenAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await TenantSession.ApplyAsync(connection, tx, tenant, CancellationToken.None);
        await using var command = new NpgsqlCommand(sql, connection, tx);
        await command.ExecuteNonQueryAsync();
    }
}
