namespace Canopy.Api.Tests.Infrastructure;

/// <summary>
/// Where the test PostgreSQL database and the test Redis instance are, as started by
/// tools/servers.sh. The values come from the environment that ./build.sh loads from
/// .env.sample and .env.
/// </summary>
internal static class TestServers
{
    /// <summary>The application role: owns nothing, subject to row-level security.</summary>
    public static string PostgresConnectionString => Postgres("CANOPY_PG_APP_USER", "CANOPY_PG_APP_PASSWORD");

    /// <summary>The owner role, which applies migrations.</summary>
    public static string PostgresOwnerConnectionString => Postgres("CANOPY_PG_OWNER_USER", "CANOPY_PG_OWNER_PASSWORD");

    /// <summary>The application role on the streaming standby (tools/servers.sh), for reads that may lag.</summary>
    public static string PostgresReplicaConnectionString => Postgres("CANOPY_PG_APP_USER", "CANOPY_PG_APP_PASSWORD", "CANOPY_PG_REPLICA_PORT");

    /// <summary>The owner role on the standby: may hold and resume its replay (granted in the test database by tools/servers.sh).</summary>
    public static string PostgresReplicaOwnerConnectionString => Postgres("CANOPY_PG_OWNER_USER", "CANOPY_PG_OWNER_PASSWORD", "CANOPY_PG_REPLICA_PORT");

    public static string AppRole => Require("CANOPY_PG_APP_USER");

    public static string DatabaseName => Require("CANOPY_PG_TEST_DATABASE");

    private static string Postgres(string user, string password, string port = "CANOPY_PG_PORT") => new Npgsql.NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = int.Parse(Require(port), System.Globalization.CultureInfo.InvariantCulture),
        Database = Require("CANOPY_PG_TEST_DATABASE"),
        Username = Require(user),
        Password = Require(password),
    }.ConnectionString;

    public static string RedisConnectionString => RedisAt(int.Parse(Require("CANOPY_REDIS_TEST_PORT"), System.Globalization.CultureInfo.InvariantCulture));

    public static string RedisPassword => Require("CANOPY_REDIS_PASSWORD");

    public static string RedisAt(int port) => $"127.0.0.1:{port},password={RedisPassword}";

    private static string Require(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set. Run the tests through ./build.sh --target=Test, which starts the servers and loads .env.sample.");
}
