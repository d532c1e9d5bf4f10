using Canopy.Contracts;
using Canopy.Platform.Security;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Canopy.Identity.Security;

/// <summary>The ES256 keys of members' access tokens (<c>Identity__SigningKeys__*</c>), published as a JWKS.</summary>
internal sealed class SigningKeyRing(IOptions<IdentityOptions> options) : Es256KeyRing(
    IdentityOptions.Section, typeof(IdentityOptions), "Identity__SigningKeys", "Identity__ActiveSigningKey",
    options.Value.SigningKeys, options.Value.ActiveSigningKey)
{
    public Contracts.JsonWebKeySet PublicKeys() => new()
    {
        Keys = PublicParameters().Select(k => new Contracts.JsonWebKey
        {
            Kty = JsonWebKeyKty.EC,
            Crv = JsonWebKeyCrv.P256,
            Kid = k.KeyId,
            Use = JsonWebKeyUse.Sig,
            Alg = JsonWebKeyAlg.ES256,
            X = Base64UrlEncoder.Encode(k.PublicKey.Q.X),
            Y = Base64UrlEncoder.Encode(k.PublicKey.Q.Y),
        }).ToList(),
    };
}
