using Npgsql;

namespace Canopy.Platform.Postgres;

/// <summary>
/// Canopy stores and compares <c>timestamptz</c> in UTC; a session in another time zone would
/// silently shift every date rendered by the database. Each new physical connection is checked.
/// </summary>
public static class UtcSessionGuard
{
    private static readonly string[] UtcNames = ["UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu", "GMT", "Etc/GMT"];

    public static void Check(NpgsqlConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = new NpgsqlCommand("SHOW TimeZone", connection);
        Verify(command.ExecuteScalar() as string);
    }

    public static async Task CheckAsync(NpgsqlConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var command = new NpgsqlCommand("SHOW TimeZone", connection);
        Verify(await command.ExecuteScalarAsync().ConfigureAwait(false) as string);
    }

    public static void Verify(string? timeZone)
    {
        if (timeZone is null || !UtcNames.Contains(timeZone, StringComparer.OrdinalIgnoreCase))
        {
            throw new DatabaseTimeZoneException(timeZone ?? "(unknown)");
        }
    }
}

/// <summary>The database session is not in UTC: Canopy refuses to run on it.</summary>
public sealed class DatabaseTimeZoneException : InvalidOperationException
{
    public DatabaseTimeZoneException(string timeZone)
        : base($"The PostgreSQL session time zone is '{timeZone}'; Canopy requires UTC. Set the role's or the server's timezone to UTC (ALTER ROLE ... SET timezone = 'UTC').")
    {
        TimeZone = timeZone;
    }

    public DatabaseTimeZoneException()
        : this("(unknown)")
    {
    }

    public DatabaseTimeZoneException(string message, Exception innerException)
        : base(message, innerException)
    {
        TimeZone = "(unknown)";
    }

    public string TimeZone { get; } = "(unknown)";
}
