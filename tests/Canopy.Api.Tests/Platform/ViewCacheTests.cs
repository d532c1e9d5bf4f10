using Canopy.Api.Tests.Identity;
using Canopy.Platform.Caching;
using Canopy.Platform.Redis;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Platform;

/// <summary>
/// The view cache's promises, read back from the real Redis: how long a view and an absence
/// live, and that a rebuild's lock is released only by the caller that still holds it.
/// </summary>
public sealed class ViewCacheTests(IdentityHost host) : IClassFixture<IdentityHost>
{
    private sealed record View(string Text);

    private ViewCache Cache => host.Factory.Services.GetRequiredService<ViewCache>();

    private RedisConnection Redis => host.Factory.Services.GetRequiredService<RedisConnection>();

    [Theory]
    [InlineData(60)]
    [InlineData(3600)]
    public async Task Given_a_view_built_many_times_Then_each_lives_its_ttl_plus_at_most_a_tenth_and_their_expiries_differ(int seconds)
    {
        var ttl = TimeSpan.FromSeconds(seconds);
        var scope = NewScope();
        var lifetimes = new List<long>();
        for (var i = 0; i < 20; i++)
        {
            var name = $"view-{i}";
            Assert.Equal("""{"text":"built"}""", await Cache.GetOrBuildAsync(scope, name, "test", ttl, _ => Task.FromResult<View?>(new View("built")), CancellationToken.None));
            lifetimes.Add(await PttlAsync($"{scope}:v0:{name}"));
        }

        // PTTL is read a moment after the SET: allow a second below the TTL for that.
        Assert.All(lifetimes, ms => Assert.InRange(ms, (long)ttl.TotalMilliseconds - 1_000, (long)(ttl.TotalMilliseconds * 1.1)));
        // Jitter of up to a tenth spreads 20 expiries over seconds; without it they would lie milliseconds apart.
        Assert.True(lifetimes.Max() - lifetimes.Min() > 1_000, $"expiries are spread, not equal: {string.Join(", ", lifetimes)}");
    }

    [Fact]
    public async Task Given_a_view_that_does_not_exist_Then_its_absence_lives_ten_seconds_and_is_answered_without_building_again()
    {
        var scope = NewScope();
        var builds = 0;
        Task<View?> Build(CancellationToken _)
        {
            Interlocked.Increment(ref builds);
            return Task.FromResult<View?>(null);
        }

        Assert.Null(await Cache.GetOrBuildAsync(scope, "missing", "test", TimeSpan.FromHours(1), Build, CancellationToken.None));
        Assert.Null(await Cache.GetOrBuildAsync(scope, "missing", "test", TimeSpan.FromHours(1), Build, CancellationToken.None));

        Assert.Equal(1, builds);
        Assert.InRange(await PttlAsync($"{scope}:v0:missing"), 9_000, (long)ViewCache.AbsentTtl.TotalMilliseconds);
    }

    [Fact]
    public async Task Given_a_rebuild_whose_lock_expired_and_was_taken_by_another_caller_Then_finishing_it_leaves_the_other_callers_lock()
    {
        var scope = NewScope();
        var lockKey = $"{scope}:v0:slow:lock";
        const string otherHolder = "another-caller";

        // While this caller builds, its lock passes to another (as if it had expired and been taken).
        var built = await Cache.GetOrBuildAsync(scope, "slow", "test", TimeSpan.FromMinutes(1), async _ =>
        {
            Assert.NotNull(await StringGetAsync(lockKey));
            await Redis.ExecuteAsync("SET", db => db.StringSetAsync(lockKey, otherHolder, TimeSpan.FromSeconds(30)));
            return new View("slow");
        }, CancellationToken.None);

        Assert.Equal("""{"text":"slow"}""", built);
        Assert.Equal(otherHolder, await StringGetAsync(lockKey));
    }

    [Fact]
    public async Task Given_a_rebuild_that_finished_Then_its_own_lock_is_gone()
    {
        var scope = NewScope();

        await Cache.GetOrBuildAsync(scope, "quick", "test", TimeSpan.FromMinutes(1), _ => Task.FromResult<View?>(new View("quick")), CancellationToken.None);

        Assert.Null(await StringGetAsync($"{scope}:v0:quick:lock"));
    }

    private static string NewScope() => "{test-view-cache:" + Guid.NewGuid().ToString("N") + "}";

    private Task<long> PttlAsync(string key) =>
        Redis.ExecuteAsync("PTTL", async db => (long)(await db.KeyTimeToLiveAsync(key))!.Value.TotalMilliseconds);

    private Task<string?> StringGetAsync(string key) =>
        Redis.ExecuteAsync("GET", async db => (string?)await db.StringGetAsync(key));
}
