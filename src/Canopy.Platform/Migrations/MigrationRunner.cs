using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Canopy.Platform.Migrations;

/// <summary>The SQL migration files of one module, as (file name, text) pairs.</summary>
public sealed record MigrationSource(string Module, Func<IEnumerable<(string FileName, string Sql)>> Files)
{
    /// <summary>
    /// Files embedded in an assembly under the logical name
    /// <c>migrations/&lt;module&gt;/&lt;NNNN&gt;_&lt;name&gt;.sql</c>.
    /// </summary>
    public static MigrationSource FromAssembly(string module, Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var prefix = $"migrations/{module}/";
        return new MigrationSource(module, () => assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n =>
            {
                using var stream = assembly.GetManifestResourceStream(n)!;
                using var reader = new StreamReader(stream, Encoding.UTF8);
                return (n[prefix.Length..], reader.ReadToEnd());
            })
            .ToList());
    }
}

public sealed record Migration(string Module, int Version, string Name, string Sql, string Checksum);

/// <summary>An applied migration's file changed: the database no longer matches the code.</summary>
public sealed class MigrationChecksumException(string message) : InvalidOperationException(message)
{
    public MigrationChecksumException()
        : this("An applied migration was edited.")
    {
    }

    public MigrationChecksumException(string message, Exception innerException)
        : this(message + " " + innerException?.Message)
    {
    }
}

/// <summary>
/// Applies plain SQL migrations, module by module in registration order, each in its own
/// transaction with its bookkeeping row, under a PostgreSQL advisory lock so concurrent
/// instances migrate once. Applied files are recorded with a SHA-256 checksum; an edited,
/// already-applied file stops the run. Runs as the owner role; <c>{{app_role}}</c> in a file
/// is replaced by the quoted application role, so grants follow configuration.
/// </summary>
public sealed partial class MigrationRunner(string ownerConnectionString, string appRole, IEnumerable<MigrationSource> sources, ILogger<MigrationRunner> logger)
{
    // An arbitrary constant: the advisory lock every Canopy instance takes to migrate.
    private const long LockKey = 7_330_221_901_455_001;

    public static IReadOnlyList<Migration> Discover(IEnumerable<MigrationSource> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var migrations = new List<Migration>();
        foreach (var source in sources)
        {
            var found = source.Files()
                .Select(f =>
                {
                    var match = FileName().Match(f.FileName);
                    if (!match.Success)
                    {
                        throw new InvalidOperationException($"Migration {source.Module}/{f.FileName} is not named NNNN_name.sql.");
                    }

                    var sql = f.Sql.Replace("\r\n", "\n", StringComparison.Ordinal);
                    var checksum = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(sql))).ToLowerInvariant();
                    return new Migration(source.Module, int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), match.Groups[2].Value, sql, checksum);
                })
                .OrderBy(m => m.Version)
                .ToList();
            var duplicate = found.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null)
            {
                throw new InvalidOperationException($"Module {source.Module} has two migrations numbered {duplicate.Key}.");
            }

            migrations.AddRange(found);
        }

        return migrations;
    }

    /// <summary>Applies what is pending; returns what it applied.</summary>
    public async Task<IReadOnlyList<Migration>> ApplyAsync(CancellationToken cancellationToken)
    {
        var migrations = Discover(sources);
        var applied = new List<Migration>();
        // A data source of its own, named, so pool metrics never carry the owner's connection string.
        await using var dataSource = new NpgsqlDataSourceBuilder(ownerConnectionString) { Name = "migrations" }.Build();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, $"SELECT pg_advisory_lock({LockKey})", cancellationToken).ConfigureAwait(false);
        try
        {
            await ExecuteAsync(connection, null, """
                CREATE SCHEMA IF NOT EXISTS canopy_migrations;
                CREATE TABLE IF NOT EXISTS canopy_migrations.applied (
                    module     text        NOT NULL,
                    version    integer     NOT NULL CHECK (version > 0),
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (module, version)
                );
                """, cancellationToken).ConfigureAwait(false);
            var done = await ReadAppliedAsync(connection, cancellationToken).ConfigureAwait(false);
            foreach (var migration in migrations)
            {
                if (done.TryGetValue((migration.Module, migration.Version), out var checksum))
                {
                    if (!string.Equals(checksum, migration.Checksum, StringComparison.Ordinal))
                    {
                        throw new MigrationChecksumException(
                            $"Migration {migration.Module}/{migration.Version:D4}_{migration.Name}.sql was edited after it was applied " +
                            $"(recorded checksum {checksum[..12]}…, file {migration.Checksum[..12]}…). Restore it and add a new migration instead.");
                    }

                    continue;
                }

                await ApplyOneAsync(connection, migration, cancellationToken).ConfigureAwait(false);
                applied.Add(migration);
                LogApplied(logger, migration.Module, migration.Version, migration.Name);
            }
        }
        finally
        {
            await ExecuteAsync(connection, null, $"SELECT pg_advisory_unlock({LockKey})", CancellationToken.None).ConfigureAwait(false);
        }

        return applied;
    }

    private async Task ApplyOneAsync(NpgsqlConnection connection, Migration migration, CancellationToken cancellationToken)
    {
        var sql = migration.Sql.Replace("{{app_role}}", QuoteIdentifier(appRole), StringComparison.Ordinal);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, sql, cancellationToken).ConfigureAwait(false);
        await using (var record = new NpgsqlCommand(
            "INSERT INTO canopy_migrations.applied (module, version, name, checksum) VALUES ($1, $2, $3, $4)", connection, transaction))
        {
            record.Parameters.Add(new NpgsqlParameter { Value = migration.Module });
            record.Parameters.Add(new NpgsqlParameter { Value = migration.Version });
            record.Parameters.Add(new NpgsqlParameter { Value = migration.Name });
            record.Parameters.Add(new NpgsqlParameter { Value = migration.Checksum });
            await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Dictionary<(string, int), string>> ReadAppliedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var applied = new Dictionary<(string, int), string>();
        await using var command = new NpgsqlCommand("SELECT module, version, checksum FROM canopy_migrations.applied", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            applied[(reader.GetString(0), reader.GetInt32(1))] = reader.GetString(2);
        }

        return applied;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public static string QuoteIdentifier(string identifier)
    {
        ArgumentNullException.ThrowIfNull(identifier);
        return "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    [GeneratedRegex(@"^(\d{4})_([a-z0-9_]+)\.sql$")]
    private static partial Regex FileName();

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {Module}/{Version} {Name}")]
    private static partial void LogApplied(ILogger logger, string module, int version, string name);
}
