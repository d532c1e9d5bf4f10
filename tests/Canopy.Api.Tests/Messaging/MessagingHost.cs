using System.Diagnostics.Metrics;
using Canopy.Api.Tests.Infrastructure;
using Canopy.Platform.Messaging;
using Canopy.Platform.Observability;
using Canopy.Platform.Postgres;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Canopy.Api.Tests.Messaging;

/// <summary>The platform's real messaging workers in a host of the test, with the test's queues, handlers and subscribers.</summary>
internal sealed class MessagingHost : IAsyncDisposable
{
    private readonly IHost _host;

    private MessagingHost(IHost host) => _host = host;

    public IServiceProvider Services => _host.Services;

    public MessageWriter Writer => Services.GetRequiredService<MessageWriter>();

    public NpgsqlDataSource DataSource => Services.GetRequiredService<NpgsqlDataSource>();

    public static async Task<MessagingHost> StartAsync(Action<IServiceCollection> configure, bool runWorkers = true)
    {
        await TestDatabase.EnsureMigratedAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = TestServers.PostgresConnectionString,
            ["Postgres:PoolName"] = "messaging_" + Guid.NewGuid().ToString("N")[..8],
            ["Messaging:PollMilliseconds"] = "100",
        });
        builder.Services.AddMetrics();
        builder.Services.AddSingleton(sp => new CanopyMetrics(sp.GetRequiredService<IMeterFactory>()));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddCanopyPostgres(builder.Configuration);
        configure(builder.Services);
        builder.Services.AddCanopyMessaging(builder.Configuration, runWorkers);
        var host = builder.Build();
        await host.StartAsync();
        return new MessagingHost(host);
    }

    /// <summary>Runs work in a transaction of the platform scope (optionally for a tenant), committing unless told not to.</summary>
    public async Task<T> InTransactionAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, bool commit = true, Guid? tenant = null)
    {
        var (connection, transaction) = await Scope.BeginPlatformAsync(DataSource, CancellationToken.None, tenant);
        await using (connection)
        await using (transaction)
        {
            var result = await work(connection, transaction);
            if (commit)
            {
                await transaction.CommitAsync();
            }
            else
            {
                await transaction.RollbackAsync();
            }

            return result;
        }
    }

    public Task<long> CountAsync(string sql, params object[] parameters) => ScalarAsync<long>(sql, parameters);

    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters) =>
        await InTransactionAsync(async (connection, transaction) =>
        {
            await using var command = new NpgsqlCommand(sql, connection, transaction);
            foreach (var parameter in parameters)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = parameter });
            }

            return (T)(await command.ExecuteScalarAsync())!;
        });

    public async Task WaitUntilAsync(Func<Task<bool>> condition, string what, int seconds = 30)
    {
        ObjectDisposedException.ThrowIf(_host is null, this);
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"Timed out waiting until {what}.");
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

/// <summary>The messaging tests share the replay budget and the database's queues: they run one class at a time.</summary>
[CollectionDefinition("messaging", DisableParallelization = true)]
public sealed class MessagingTestGroup;
