namespace Canopy.Platform.Data;

/// <summary>Cursor pages: read one row more than asked, and cut.</summary>
public static class Pages
{
    /// <summary>The first <paramref name="limit"/> rows, and the cursor after the last of them when more exist.</summary>
    public static (List<T> Page, string? Next) Cut<T>(List<T> rows, int limit, Func<T, string> cursorAfter)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(cursorAfter);
        var page = rows.Take(limit).ToList();
        return (page, rows.Count > limit ? cursorAfter(page[^1]) : null);
    }
}
