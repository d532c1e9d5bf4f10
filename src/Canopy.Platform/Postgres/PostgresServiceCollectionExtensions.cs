using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Canopy.Platform.Postgres;

public static class PostgresServiceCollectionExtensions
{
    /// <summary>
    /// Registers the primary <see cref="NpgsqlDataSource"/> with the pool size and timeouts from
    /// configuration. The connection string is read from <c>ConnectionStrings:Postgres</c>.
    /// </summary>
    public static IServiceCollection AddCanopyPostgres(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PostgresOptions>()
            .Bind(configuration.GetSection(PostgresOptions.Section))
            .Configure(o => o.ConnectionString = configuration.GetConnectionString("Postgres") ?? "")
            .ValidateDataAnnotations()
            .Validate(o => IsParsable(o.ConnectionString), "ConnectionStrings__Postgres is not a valid PostgreSQL connection string.")
            .ValidateOnStart();

        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<PostgresOptions>>().Value;
            var builder = new NpgsqlDataSourceBuilder(options.ConnectionString)
            {
                Name = options.PoolName,
            };
            builder.ConnectionStringBuilder.MaxPoolSize = options.MaxPoolSize;
            builder.ConnectionStringBuilder.Timeout = options.ConnectionTimeoutSeconds;
            builder.ConnectionStringBuilder.CommandTimeout = options.CommandTimeoutSeconds;
            builder.ConnectionStringBuilder.ApplicationName ??= "canopy";
            builder.UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>());
            return builder.Build();
        });
        services.AddSingleton<PostgresPoolMonitor>();
        return services;
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
}
