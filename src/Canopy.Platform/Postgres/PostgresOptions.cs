using System.ComponentModel.DataAnnotations;

namespace Canopy.Platform.Postgres;

/// <summary>Connection settings of the primary PostgreSQL data source.</summary>
public sealed class PostgresOptions
{
    public const string Section = "Postgres";

    /// <summary>Connection string of the application role (not the owner of any table).</summary>
    [Required(ErrorMessage = "ConnectionStrings__Postgres is required (the application role's connection string).")]
    public string ConnectionString { get; set; } = "";

    /// <summary>
    /// Name of the pool in metrics and readiness. Never the connection string, which names
    /// hosts; distinct per data source when one process holds several.
    /// </summary>
    [Required]
    [RegularExpression("^[a-z][a-z0-9_-]{0,62}$")]
    public string PoolName { get; set; } = "primary";

    /// <summary>Upper bound of the connection pool; requests wait for a free connection beyond it.</summary>
    [Range(1, 1000)]
    public int MaxPoolSize { get; set; } = 50;

    /// <summary>Seconds to wait for a connection (new or from the pool) before failing.</summary>
    [Range(1, 300)]
    public int ConnectionTimeoutSeconds { get; set; } = 5;

    /// <summary>Seconds a single command may run before it is cancelled.</summary>
    [Range(1, 3600)]
    public int CommandTimeoutSeconds { get; set; } = 30;
}
