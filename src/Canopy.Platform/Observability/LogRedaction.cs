using System.Text.RegularExpressions;

namespace Canopy.Platform.Observability;

/// <summary>
/// What never appears in a log: credentials, tokens, secrets, cookies and e-mail addresses,
/// whether as a named property or inside free text (messages, exception texts).
/// </summary>
public static partial class LogRedaction
{
    public const string Mask = "[REDACTED]";

    /// <summary>Whether a property of this name holds something that must not be logged.</summary>
    public static bool IsSensitiveName(string name) => SensitiveName().IsMatch(name);

    /// <summary>Masks e-mail addresses, bearer tokens and key=value secrets inside free text.</summary>
    public static string Scrub(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = Email().Replace(text, Mask);
        result = Bearer().Replace(result, "$1" + Mask);
        result = KeyValueSecret().Replace(result, "$1" + Mask);
        result = Jwt().Replace(result, Mask);
        return result;
    }

    [GeneratedRegex(@"(authorization|cookie|password|passwd|pwd|secret|token|api[_-]?key|credential|e[-_]?mail)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SensitiveName();

    [GeneratedRegex(@"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", RegexOptions.CultureInvariant)]
    private static partial Regex Email();

    [GeneratedRegex(@"(\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Bearer();

    [GeneratedRegex(@"(\b(?:password|passwd|pwd|secret|token|api[_-]?key|access_token|refresh_token)\s*[=:]\s*)[^;,&\s""']+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex KeyValueSecret();

    [GeneratedRegex(@"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", RegexOptions.CultureInvariant)]
    private static partial Regex Jwt();
}
