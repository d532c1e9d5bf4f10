using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Canopy.Platform.Postgres;

public static partial class PostgresServiceCollectionExtensions
{
    /// <summary>
    /// Registers the primary and replica <see cref="NpgsqlDataSource"/>s with pool size and
    /// timeouts from configuration (<c>ConnectionStrings:Postgres</c>, <c>ConnectionStrings:PostgresReplica</c>,
    /// <c>Postgres:*</c>); <see cref="NpgsqlDataSource"/> itself resolves to the primary.
    /// </summary>
    public static IServiceCollection AddCanopyPostgres(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PostgresOptions>()
            .Bind(configuration.GetSection(PostgresOptions.Section))
            .Configure(o =>
            {
                o.ConnectionString = configuration.GetConnectionString("Postgres") ?? "";
                o.ReplicaConnectionString = configuration.GetConnectionString("PostgresReplica");
            })
            .ValidateDataAnnotations()
            .Validate(o => IsParsable(o.ConnectionString), "ConnectionStrings__Postgres is not a valid PostgreSQL connection string.")
            .Validate(o => string.IsNullOrWhiteSpace(o.ReplicaConnectionString) || IsParsable(o.ReplicaConnectionString), "ConnectionStrings__PostgresReplica is not a valid PostgreSQL connection string.")
            .ValidateOnStart();

        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<PostgresOptions>>().Value;
            var logging = sp.GetRequiredService<ILoggerFactory>();
            var primary = Build(options.ConnectionString, options.PoolName, "canopy", options, logging);
            var replica = Build(
                string.IsNullOrWhiteSpace(options.ReplicaConnectionString) ? options.ConnectionString : options.ReplicaConnectionString,
                options.ReplicaPoolName, "canopy-replica", options, logging);
            return new PostgresDataSources(primary, replica);
        });
        services.AddSingleton(sp => sp.GetRequiredService<PostgresDataSources>().Primary);
        services.AddSingleton<PostgresPoolMonitor>();
        services.AddHostedService<DatabaseStartupCheck>();
        return services;
    }

    private static NpgsqlDataSource Build(string connectionString, string poolName, string applicationName, PostgresOptions options, ILoggerFactory logging)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString) { Name = poolName };
        builder.ConnectionStringBuilder.MaxPoolSize = options.MaxPoolSize;
        builder.ConnectionStringBuilder.Timeout = options.ConnectionTimeoutSeconds;
        builder.ConnectionStringBuilder.CommandTimeout = options.CommandTimeoutSeconds;
        builder.ConnectionStringBuilder.MaxAutoPrepare = options.MaxAutoPrepare;
        builder.ConnectionStringBuilder.ApplicationName ??= applicationName;
        builder.UsePhysicalConnectionInitializer(UtcSessionGuard.Check, UtcSessionGuard.CheckAsync);
        builder.UseLoggerFactory(logging);
        return builder.Build();
    }

    private static bool IsParsable(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return true; // reported by the Required rule with its own message
        }

        try
        {
            _ = new NpgsqlConnectionStringBuilder(connectionString);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// At start-up, opens one connection: a database whose session is not in UTC stops the
    /// process. An unreachable database does not: the service starts and reports it in readiness.
    /// </summary>
    private sealed partial class DatabaseStartupCheck(NpgsqlDataSource dataSource, ILogger<DatabaseStartupCheck> logger) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NpgsqlException ex)
            {
                LogUnreachable(logger, ex);
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL is not reachable at start-up; the service starts and readiness reports it")]
        private static partial void LogUnreachable(ILogger logger, Exception exception);
    }
}
