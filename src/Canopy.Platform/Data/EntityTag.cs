using System.Globalization;
using Canopy.Platform.Problems;

namespace Canopy.Platform.Data;

/// <summary>Strong ETags derived from a row's <c>version</c> or a page's content, and the If-Match rules of API-RULES.md.</summary>
public static partial class EntityTag
{
    public static string FromVersion(int version) => "\"" + version.ToString(CultureInfo.InvariantCulture) + "\"";

    /// <summary>A strong tag of a representation with no version (a page of a list): a hash of its JSON.</summary>
    public static string FromContent<T>(T body) =>
        "\"" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(body)))[..16] + "\"";

    /// <summary>
    /// Checks an If-Match header against the current version: missing → 428, no match → 412.
    /// Weak tags never match (If-Match uses the strong comparison, RFC 9110 §13.1.1).
    /// </summary>
    public static void RequireMatch(string? ifMatch, int currentVersion)
    {
        if (string.IsNullOrWhiteSpace(ifMatch))
        {
            throw new ProblemException(ProblemTypes.PreconditionRequired, "Send If-Match with the ETag you last read.");
        }

        var current = FromVersion(currentVersion);
        var tags = ifMatch.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (tags.Any(t => t == "*" || t == current))
        {
            return;
        }

        // Only a tag of the form this service issues is echoed: the header is the caller's text.
        var sent = ifMatch.Trim();
        throw new ProblemException(ProblemTypes.PreconditionFailed, IssuedForm().IsMatch(sent)
            ? $"If-Match was {sent} but the current ETag is {current}."
            : $"If-Match does not carry the current ETag, which is {current}.");
    }

    /// <summary>Whether an If-None-Match header matches the current version (answer 304).</summary>
    public static bool NoneMatch(string? ifNoneMatch, int currentVersion) => NoneMatch(ifNoneMatch, FromVersion(currentVersion));

    /// <summary>Whether an If-None-Match header matches the current tag (answer 304); weak comparison, as RFC 9110 asks.</summary>
    public static bool NoneMatch(string? ifNoneMatch, string current)
    {
        if (string.IsNullOrWhiteSpace(ifNoneMatch))
        {
            return false;
        }

        return ifNoneMatch.Split(',', StringSplitOptions.TrimEntries).Any(t => t == "*" || t == current || t == "W/" + current);
    }

    [System.Text.RegularExpressions.GeneratedRegex("^(W/)?\"[0-9]{1,10}\"$")]
    private static partial System.Text.RegularExpressions.Regex IssuedForm();
}
