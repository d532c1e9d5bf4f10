using Canopy.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Canopy.Api.Tests.Platform;

/// <summary>
/// The role an in-memory host is given decides its workers, as it does for a process: an API-only
/// host must not relay the outbox into the Redis it was given, or handle another test's events.
/// </summary>
public sealed class HostRoleTests
{
    [Fact]
    public async Task Given_an_api_host_Then_it_registers_no_worker()
    {
        await using var factory = new CanopyApiFactory();

        Assert.Empty(HostedServices(factory).Intersect(Workers));
    }

    [Fact]
    public async Task Given_a_host_of_every_role_Then_its_workers_are_registered()
    {
        await using var factory = new CanopyApiFactory(new Dictionary<string, string?> { ["Runtime:Role"] = "all" });

        Assert.Equal(Workers.Order(), HostedServices(factory).Intersect(Workers).Order());
    }

    private static readonly string[] Workers = ["OutboxRelay", "JobWorker", "FeedEvaluation", "OfflineDetection", "RollupWorker", "PartitionWorker"];

    private static IEnumerable<string> HostedServices(CanopyApiFactory factory) =>
        factory.Services.GetServices<IHostedService>().Select(s => s.GetType().Name);
}
