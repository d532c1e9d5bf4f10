using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Canopy.Platform.Problems;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Canopy.Platform.Data;

public sealed class CursorOptions
{
    public const string Section = "Cursors";

    /// <summary>Base64 key (at least 32 bytes) that signs cursors; from <c>Cursors__Key</c>.</summary>
    [Required(ErrorMessage = "Cursors__Key is required (base64 of at least 32 random bytes).")]
    public string Key { get; set; } = "";
}

/// <summary>Where a page starts: the sort key values of the last row seen, and the direction.</summary>
public sealed record CursorPosition(IReadOnlyList<string> After, bool Backward = false);

/// <summary>
/// Opaque pagination cursors: base64url of the position, the direction and a hash of the
/// filters, signed with HMAC-SHA256. A tampered cursor, or one used with other filters, is a
/// 400 problem naming the <c>cursor</c> parameter.
/// </summary>
public sealed class CursorCodec
{
    private const int TagBytes = 16;
    private readonly byte[] _key;

    public CursorCodec(IOptions<CursorOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _key = ParseKey(options.Value.Key);
    }

    public static byte[] ParseKey(string key)
    {
        try
        {
            var bytes = Convert.FromBase64String(key ?? "");
            return bytes.Length >= 32 ? bytes : throw new FormatException();
        }
        catch (FormatException)
        {
            throw new OptionsValidationException(CursorOptions.Section, typeof(CursorOptions),
                ["Cursors__Key must be base64 of at least 32 random bytes."]);
        }
    }

    /// <summary>A stable hash of the filters a list was asked with (name=value pairs, order-insensitive).</summary>
    public static string HashFilters(params (string Name, string? Value)[] filters)
    {
        var canonical = string.Join('\n', filters.OrderBy(f => f.Name, StringComparer.Ordinal).Select(f => $"{f.Name}={f.Value}"));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))[..16];
    }

    public string Encode(CursorPosition position, string filterHash)
    {
        ArgumentNullException.ThrowIfNull(position);
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Payload(position.After.ToArray(), position.Backward ? "b" : "f", filterHash));
        var tag = HMACSHA256.HashData(_key, payload).AsSpan(0, TagBytes);
        return WebEncoders.Base64UrlEncode(payload) + "." + WebEncoders.Base64UrlEncode(tag.ToArray());
    }

    public CursorPosition Decode(string cursor, string filterHash)
    {
        var parts = (cursor ?? "").Split('.');
        byte[] payload;
        byte[] tag;
        try
        {
            if (parts.Length != 2)
            {
                throw Invalid("The cursor is not one this service issued.");
            }

            payload = WebEncoders.Base64UrlDecode(parts[0]);
            tag = WebEncoders.Base64UrlDecode(parts[1]);
        }
        catch (FormatException)
        {
            throw Invalid("The cursor is not one this service issued.");
        }

        var expected = HMACSHA256.HashData(_key, payload).AsSpan(0, TagBytes);
        if (!CryptographicOperations.FixedTimeEquals(expected, tag))
        {
            throw Invalid("The cursor is not one this service issued, or it was altered.");
        }

        var decoded = JsonSerializer.Deserialize<Payload>(payload) ?? throw Invalid("The cursor is empty.");
        if (!string.Equals(decoded.F, filterHash, StringComparison.Ordinal))
        {
            throw Invalid("The cursor belongs to a list with other filters; start again without a cursor.");
        }

        return new CursorPosition(decoded.A, decoded.D == "b");
    }

    private static ProblemException Invalid(string detail) =>
        new(ProblemTypes.MalformedRequest, detail, [new FieldError(detail, Parameter: "cursor", In: "query")]);

    private sealed record Payload(string[] A, string D, string F);
}
