using System.Net;
using System.Security.Cryptography;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Canopy.Api.Tests.Identity;

public sealed class AccessTokenTests : IAsyncLifetime
{
    private readonly TestClock _clock = new(DateTimeOffset.UtcNow);
    private CanopyApiFactory _factory = null!;
    private IdentityApi _api = null!;
    private ECDsa _signingKey = null!;

    public async Task InitializeAsync()
    {
        _factory = IdentityHosts.WithClock(_clock);
        _api = new IdentityApi(_factory.CreateClient());
        var options = _factory.Services.GetRequiredService<IOptions<IdentityOptions>>().Value;
        _signingKey = ECDsa.Create();
        _signingKey.ImportPkcs8PrivateKey(Convert.FromBase64String(options.SigningKeys[options.ActiveSigningKey]), out _);
        await Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _signingKey.Dispose();
        await _factory.DisposeAsync();
    }

    [Fact]
    public async Task Given_a_signed_in_member_Then_the_access_token_is_an_es256_at_jwt_of_at_most_15_minutes_naming_user_tenant_and_key()
    {
        var account = await _api.NewAccountAsync();

        using var response = await _api.SignInAsync(account.Email);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var body = await IdentityApi.Json(response);
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.Equal(900, body.GetProperty("expires_in").GetInt32());
        var (header, payload) = ForgedTokens.Parts(body.GetProperty("access_token").GetString()!);
        Assert.Equal("ES256", header["alg"]!.GetValue<string>());
        Assert.Equal("at+jwt", header["typ"]!.GetValue<string>());
        var options = _factory.Services.GetRequiredService<IOptions<IdentityOptions>>().Value;
        Assert.Equal(options.ActiveSigningKey, header["kid"]!.GetValue<string>());
        Assert.Equal(options.Issuer, payload["iss"]!.GetValue<string>());
        Assert.Equal(options.Audience, payload["aud"]!.GetValue<string>());
        Assert.Equal(account.UserId.ToString(), payload["sub"]!.GetValue<string>());
        Assert.Equal(account.TenantId.ToString(), payload["tid"]!.GetValue<string>());
        Assert.True(Guid.TryParse(payload["jti"]!.GetValue<string>(), out _));
        Assert.InRange(ForgedTokens.Claim(payload, "exp") - ForgedTokens.Claim(payload, "iat"), 1, 900);

        using var jwks = await _api.GetAsync("/api/v1/auth/jwks", null);
        var keys = (await IdentityApi.Json(jwks)).GetProperty("keys");
        Assert.Contains(keys.EnumerateArray(), k => k.GetProperty("kid").GetString() == options.ActiveSigningKey && k.GetProperty("alg").GetString() == "ES256" && !k.TryGetProperty("d", out _));
    }

    public static TheoryData<string> Forgeries() =>
    [
        "alg none", "HS256 keyed with the public key", "expired", "not yet valid", "wrong issuer", "wrong audience",
        "unknown key id", "tampered payload", "signed by another key", "wrong typ",
    ];

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task Given_a_forged_or_invalid_token_Then_401_problem_with_www_authenticate(string forgery)
    {
        var account = await _api.NewAccountAsync();
        var real = (await _api.TokensAsync(account.Email)).Access;
        var (header, payload) = ForgedTokens.Parts(real);
        var now = _clock.GetUtcNow().ToUnixTimeSeconds();
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var token = forgery switch
        {
            "alg none" => ForgedTokens.Unsigned(ForgedTokens.With(header, "alg", "none"), payload),
            "HS256 keyed with the public key" => ForgedTokens.SignHs256(ForgedTokens.With(header, "alg", "HS256"), payload, _signingKey.ExportSubjectPublicKeyInfo()),
            "expired" => ForgedTokens.SignEs256(header, ForgedTokens.With(ForgedTokens.With(payload, "exp", now - 1), "iat", now - 901), _signingKey),
            "not yet valid" => ForgedTokens.SignEs256(header, ForgedTokens.With(payload, "nbf", now + 60), _signingKey),
            "wrong issuer" => ForgedTokens.SignEs256(header, ForgedTokens.With(payload, "iss", "https://evil.example"), _signingKey),
            "wrong audience" => ForgedTokens.SignEs256(header, ForgedTokens.With(payload, "aud", "another-api"), _signingKey),
            "unknown key id" => ForgedTokens.SignEs256(ForgedTokens.With(header, "kid", "rogue"), payload, otherKey),
            "tampered payload" => ForgedTokens.Encode(header) + "." + ForgedTokens.Encode(ForgedTokens.With(payload, "role", "owner")) + "." + real.Split('.')[2],
            "signed by another key" => ForgedTokens.SignEs256(header, payload, otherKey),
            "wrong typ" => ForgedTokens.SignEs256(ForgedTokens.With(header, "typ", "JWT"), payload, _signingKey),
            _ => throw new ArgumentOutOfRangeException(nameof(forgery)),
        };

        using var response = await _api.GetAsync("/api/v1/me", token);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.StartsWith("Bearer", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        using var genuine = await _api.GetAsync("/api/v1/me", real);
        Assert.Equal(HttpStatusCode.OK, genuine.StatusCode);
    }

    [Fact]
    public async Task Given_a_token_re_signed_with_its_real_key_Then_it_is_accepted_so_the_forgeries_fail_for_their_one_defect()
    {
        var account = await _api.NewAccountAsync();
        var (header, payload) = ForgedTokens.Parts((await _api.TokensAsync(account.Email)).Access);

        using var response = await _api.GetAsync("/api/v1/me", ForgedTokens.SignEs256(header, payload, _signingKey));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Given_a_token_at_exactly_its_expiry_Then_401_and_one_second_before_it_works()
    {
        var account = await _api.NewAccountAsync();
        var token = (await _api.TokensAsync(account.Email)).Access;
        var expires = DateTimeOffset.FromUnixTimeSeconds(ForgedTokens.Claim(ForgedTokens.Parts(token).Payload, "exp"));

        _clock.Set(expires.AddSeconds(-1));
        using var before = await _api.GetAsync("/api/v1/me", token);
        _clock.Set(expires);
        using var at = await _api.GetAsync("/api/v1/me", token);

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        await ProblemAssert.IsProblemAsync(at, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task Given_no_token_Then_401_with_a_bare_bearer_challenge_and_a_public_operation_still_answers()
    {
        using var me = await _api.GetAsync("/api/v1/me", null);
        using var jwks = await _api.GetAsync("/api/v1/auth/jwks", null);

        await ProblemAssert.IsProblemAsync(me, HttpStatusCode.Unauthorized, "unauthenticated");
        Assert.Equal("Bearer", me.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.OK, jwks.StatusCode);
    }
}
