using System.Text;
using System.Text.RegularExpressions;

namespace Canopy.Platform.Validation;

/// <summary>Turns the member paths the framework reports into RFC 6901 pointers (fragment form).</summary>
public static partial class JsonPointer
{
    /// <summary>
    /// <c>$.readings[3].value</c>, <c>readings[3].value</c> or <c>Readings[3].Value</c> (with the
    /// JSON names already applied) → <c>#/readings/3/value</c>; the root is <c>#</c>.
    /// </summary>
    public static string FromPath(string? path)
    {
        var trimmed = (path ?? "").Trim();
        if (trimmed.StartsWith('$'))
        {
            trimmed = trimmed[1..];
        }

        var builder = new StringBuilder("#");
        foreach (Match segment in Segment().Matches(trimmed))
        {
            var name = segment.Groups["name"].Success ? segment.Groups["name"].Value
                : segment.Groups["index"].Success ? segment.Groups["index"].Value
                : segment.Groups["quoted"].Value;
            builder.Append('/').Append(name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal));
        }

        return builder.ToString();
    }

    [GeneratedRegex(@"\['(?<quoted>[^']*)'\]|\[(?<index>\d+)\]|\.?(?<name>[^.\[\]]+)")]
    private static partial Regex Segment();
}
