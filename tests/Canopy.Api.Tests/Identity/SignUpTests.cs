using System.Net;
using System.Text;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Identity;

public sealed class SignUpTests : IClassFixture<IdentityHost>
{
    private readonly IdentityApi _api;

    public SignUpTests(IdentityHost host) => _api = new IdentityApi(host.Factory.CreateClient());

    [Fact]
    public async Task Given_a_new_email_Then_the_organisation_and_its_owner_exist_with_personal_data_encrypted_and_the_sign_up_logged()
    {
        var email = IdentityApi.NewEmail();

        using var response = await _api.SignUpAsync(email, organisation: "Sunny Acres");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("/api/v1/me", response.Headers.Location?.OriginalString);
        var body = await IdentityApi.Json(response);
        Assert.Equal("owner", body.GetProperty("role").GetString());
        var tenant = body.GetProperty("tenant_id").GetGuid();
        var user = body.GetProperty("user_id").GetGuid();
        Assert.Equal("Sunny Acres", await IdentityApi.ScalarAsync<string>("SELECT name FROM identity.tenants WHERE id = $1", tenant));
        var cipher = await IdentityApi.ScalarAsync<byte[]>("SELECT email_cipher FROM identity.users WHERE id = $1", user);
        Assert.NotNull(cipher);
        Assert.DoesNotContain(email.Split('@')[0], Encoding.UTF8.GetString(cipher), StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith("$argon2id$", await IdentityApi.ScalarAsync<string>("SELECT password_hash FROM identity.users WHERE id = $1", user), StringComparison.Ordinal);
        Assert.Equal("owner", await IdentityApi.ScalarAsync<string>("SELECT role FROM identity.memberships WHERE user_id = $1", user));
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.security_events WHERE tenant_id = $1 AND kind = 'signed_up' AND subject_id = $2", tenant, user));
    }

    [Fact]
    public async Task Given_an_email_that_differs_only_in_case_Then_409_and_no_second_organisation()
    {
        var email = IdentityApi.NewEmail();
        await _api.NewAccountAsync(email);

        using var again = await _api.SignUpAsync("  " + email.ToUpperInvariant(), organisation: "Copycat Farms " + email);

        var problem = await ProblemAssert.IsProblemAsync(again, HttpStatusCode.Conflict, "conflict");
        Assert.Contains(("#/email", (string?)null, (string?)null), ProblemAssert.Errors(problem));
        Assert.Equal(0L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.tenants WHERE name = $1", "Copycat Farms " + email));
    }

    [Fact]
    public async Task Given_two_sign_ups_with_one_email_at_the_same_moment_Then_exactly_one_organisation_is_created()
    {
        var email = IdentityApi.NewEmail();
        var organisation = "Race Farms " + Guid.NewGuid().ToString("N");

        var responses = await Task.WhenAll(_api.SignUpAsync(email, organisation: organisation), _api.SignUpAsync(email, organisation: organisation));

        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Conflict], responses.Select(r => r.StatusCode).Order());
        Assert.Equal(1L, await IdentityApi.ScalarAsync<long>("SELECT count(*) FROM identity.tenants WHERE name = $1", organisation));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Theory]
    [InlineData(11, HttpStatusCode.UnprocessableEntity)]
    [InlineData(12, HttpStatusCode.Created)]
    [InlineData(128, HttpStatusCode.Created)]
    [InlineData(129, HttpStatusCode.UnprocessableEntity)]
    public async Task Given_a_password_of_a_boundary_length_Then_only_12_to_128_characters_are_accepted(int length, HttpStatusCode expected)
    {
        using var response = await _api.SignUpAsync(IdentityApi.NewEmail(), new string('p', length - 1) + "!");

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.UnprocessableEntity)
        {
            var problem = await ProblemAssert.IsProblemAsync(response, expected, "validation-failed");
            Assert.Contains(ProblemAssert.Errors(problem), e => e.Pointer == "#/password");
        }
    }

    [Fact]
    public async Task Given_a_password_containing_the_emails_local_part_Then_422_naming_the_password()
    {
        using var response = await _api.SignUpAsync("rosalind.green@farm.example", "my-Rosalind.Green-password");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "validation-failed");
        Assert.Contains(ProblemAssert.Errors(problem), e => e.Pointer == "#/password");
    }

    [Fact]
    public async Task Given_no_idempotency_key_Then_400_and_nothing_is_created()
    {
        var email = IdentityApi.NewEmail();

        using var response = await _api.PostAsync("/api/v1/sign-ups", new { organization_name = "No Key Farm", email, password = IdentityApi.Password, display_name = "Sam" });

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
        using var signIn = await _api.SignInAsync(email);
        Assert.Equal(HttpStatusCode.Unauthorized, signIn.StatusCode);
    }
}
