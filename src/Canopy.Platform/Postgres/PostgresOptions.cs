using System.ComponentModel.DataAnnotations;

namespace Canopy.Platform.Postgres;

/// <summary>Connection settings of the PostgreSQL data sources.</summary>
public sealed class PostgresOptions
{
    public const string Section = "Postgres";

    /// <summary>The application role's connection string (a role that owns no table), from <c>ConnectionStrings:Postgres</c>.</summary>
    [Required(ErrorMessage = "ConnectionStrings__Postgres is required (the application role's connection string).")]
    public string ConnectionString { get; set; } = "";

    /// <summary>
    /// A streaming replica for reporting reads, from <c>ConnectionStrings:PostgresReplica</c>;
    /// without one, replica reads go to the primary through a pool of their own.
    /// </summary>
    public string? ReplicaConnectionString { get; set; }

    /// <summary>
    /// Name of the primary pool in metrics and readiness (the replica's gets a <c>_replica</c>
    /// suffix). Never the connection string, which names hosts.
    /// </summary>
    [Required]
    [RegularExpression("^[a-z][a-z0-9_-]{0,50}$")]
    public string PoolName { get; set; } = "primary";

    /// <summary>Upper bound of each connection pool; requests wait for a free connection beyond it.</summary>
    [Range(1, 1000)]
    public int MaxPoolSize { get; set; } = 50;

    /// <summary>Seconds to wait for a connection (new or from the pool) before failing.</summary>
    [Range(1, 300)]
    public int ConnectionTimeoutSeconds { get; set; } = 5;

    /// <summary>Seconds a single command may run before it is cancelled.</summary>
    [Range(1, 3600)]
    public int CommandTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// Statements each connection prepares once it has seen them a few times (Npgsql automatic
    /// preparation): PostgreSQL then skips parsing and planning them. 0 turns it off.
    /// </summary>
    [Range(0, 1000)]
    public int MaxAutoPrepare { get; set; } = 64;

    public string ReplicaPoolName => PoolName + "_replica";
}
