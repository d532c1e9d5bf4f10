using System.Security.Cryptography;
using Canopy.Identity.Security;
using Microsoft.Extensions.Options;

namespace Canopy.Identity.Tests;

public sealed class PiiProtectorTests
{
    private static readonly string OldKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly string NewKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly string IndexKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    [Fact]
    public void Given_a_value_encrypted_under_a_rotated_out_key_Then_it_still_decrypts_and_new_values_use_the_active_key()
    {
        var before = Protector("k1", ("k1", OldKey));
        var stored = before.Encrypt("maria@farm.example");

        var after = Protector("k2", ("k1", OldKey), ("k2", NewKey));

        Assert.Equal("maria@farm.example", after.Decrypt(stored));
        Assert.Equal("k2", PiiProtector.KeyIdOf(after.Encrypt("x")));
        Assert.NotEqual(stored, before.Encrypt("maria@farm.example"));
    }

    [Fact]
    public void Given_a_tampered_ciphertext_or_key_id_Then_decryption_fails()
    {
        var protector = Protector("k1", ("k1", OldKey), ("k2", NewKey));
        var stored = protector.Encrypt("maria@farm.example");
        var flipped = (byte[])stored.Clone();
        flipped[^1] ^= 1;
        var relabelled = (byte[])stored.Clone();
        relabelled[2] = (byte)'2';

        Assert.ThrowsAny<CryptographicException>(() => protector.Decrypt(flipped));
        Assert.ThrowsAny<CryptographicException>(() => protector.Decrypt(relabelled));
    }

    [Fact]
    public void Given_emails_that_differ_in_case_or_spaces_Then_the_blind_index_is_equal_and_holds_no_plaintext()
    {
        var protector = Protector("k1", ("k1", OldKey));

        Assert.Equal(protector.EmailIndex("Maria@Farm.example"), protector.EmailIndex("  maria@farm.EXAMPLE "));
        Assert.NotEqual(protector.EmailIndex("maria@farm.example"), protector.EmailIndex("mario@farm.example"));
        Assert.Equal(32, protector.EmailIndex("maria@farm.example").Length);
    }

    [Fact]
    public void Given_an_active_key_that_is_not_configured_or_a_short_key_Then_start_up_is_refused()
    {
        Assert.Throws<OptionsValidationException>(() => Protector("k9", ("k1", OldKey)));
        Assert.Throws<OptionsValidationException>(() => Protector("k1", ("k1", Convert.ToBase64String(new byte[16]))));
    }

    private static PiiProtector Protector(string active, params (string Id, string Key)[] keys)
    {
        var options = new IdentityOptions { BlindIndexKey = IndexKey, ActivePiiKey = active };
        foreach (var (id, key) in keys)
        {
            options.PiiKeys[id] = key;
        }

        return new PiiProtector(Options.Create(options));
    }
}
