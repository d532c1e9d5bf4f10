using System.Security.Cryptography;
using Canopy.Identity.Domain;
using Canopy.Identity.Security;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Canopy.Identity.Tests;

public sealed class SigningKeyRingTests
{
    private static readonly string Old = NewKey();
    private static readonly string Next = NewKey();
    private static readonly AccessTokenSubject Subject = new(Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7(), MemberRole.Admin, 1);

    [Fact]
    public async Task Given_a_rotation_Then_tokens_of_the_old_key_still_verify_and_new_tokens_carry_the_new_key_id()
    {
        var before = Tokens(active: "old", ("old", Old));
        var oldToken = before.Issue(Subject);

        var during = Tokens(active: "next", ("old", Old), ("next", Next));
        var newToken = during.Issue(Subject);

        Assert.True((await Validate(during, oldToken)).IsValid);
        Assert.True((await Validate(during, newToken)).IsValid);
        Assert.Equal("next", new JsonWebToken(newToken).Kid);
        Assert.Equal(2, during.Keys.PublicKeys().Keys.Count);
    }

    [Fact]
    public async Task Given_the_old_key_removed_Then_its_tokens_no_longer_verify()
    {
        var oldToken = Tokens(active: "old", ("old", Old)).Issue(Subject);

        var after = Tokens(active: "next", ("next", Next));

        Assert.False((await Validate(after, oldToken)).IsValid);
    }

    [Fact]
    public void Given_a_pem_key_Then_it_signs_like_the_same_key_in_base64()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var pem = key.ExportPkcs8PrivateKeyPem();
        var fromPem = Tokens(active: "k", ("k", pem));
        var fromBase64 = Tokens(active: "k", ("k", Convert.ToBase64String(key.ExportPkcs8PrivateKey())));

        Assert.Equal(fromBase64.Keys.PublicKeys().Keys.Single().X, fromPem.Keys.PublicKeys().Keys.Single().X);
    }

    [Fact]
    public void Given_an_rsa_or_garbled_key_Then_start_up_is_refused()
    {
        using var rsa = RSA.Create(2048);

        Assert.Throws<OptionsValidationException>(() => Tokens(active: "k", ("k", Convert.ToBase64String(rsa.ExportPkcs8PrivateKey()))));
        Assert.Throws<OptionsValidationException>(() => Tokens(active: "k", ("k", "not a key")));
        Assert.Throws<OptionsValidationException>(() => Tokens(active: "missing", ("k", Old)));
    }

    private static string NewKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return Convert.ToBase64String(key.ExportPkcs8PrivateKey());
    }

    private static Issuer Tokens(string active, params (string Id, string Key)[] keys)
    {
        var options = new IdentityOptions { Issuer = "https://canopy.test", Audience = "canopy-api", ActiveSigningKey = active };
        foreach (var (id, key) in keys)
        {
            options.SigningKeys[id] = key;
        }

        var ring = new SigningKeyRing(Options.Create(options));
        return new Issuer(new AccessTokens(ring, Options.Create(options), TimeProvider.System), ring);
    }

    private static Task<Microsoft.IdentityModel.Tokens.TokenValidationResult> Validate(Issuer issuer, string token) =>
        new JsonWebTokenHandler().ValidateTokenAsync(token, issuer.Tokens.ValidationParameters());

    private sealed record Issuer(AccessTokens Tokens, SigningKeyRing Keys)
    {
        public string Issue(AccessTokenSubject subject) => Tokens.Issue(subject);
    }
}
