using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Canopy.Api.Tests.Identity;
using Canopy.Api.Tests.Infrastructure;

namespace Canopy.Api.Tests.Platform;

public sealed class TraceSourceTests
{
    [Fact]
    public async Task Given_a_signed_in_request_Then_aspnetcore_npgsql_and_redis_spans_join_the_callers_trace()
    {
        await using var factory = new CanopyApiFactory();
        var api = new IdentityApi(factory.CreateClient());
        var account = await api.NewAccountAsync();
        var tokens = await api.TokensAsync(account.Email);
        var traceId = ActivityTraceId.CreateRandom();
        var seen = new ConcurrentBag<(string Source, string Name)>();
        // The server's own span stops after the response has reached the client.
        var requestSpanStopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The Redis instrumentation turns profiled commands into spans when it drains them (each second).
        var redisSpanStopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Microsoft.AspNetCore" or "Npgsql" or "OpenTelemetry.Instrumentation.StackExchangeRedis",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.TraceId == traceId)
                {
                    seen.Add((activity.Source.Name, activity.DisplayName));
                    if (activity.Source.Name == "Microsoft.AspNetCore")
                    {
                        requestSpanStopped.TrySetResult();
                    }
                    else if (activity.Source.Name == "OpenTelemetry.Instrumentation.StackExchangeRedis" && activity.DisplayName == "MGET")
                    {
                        redisSpanStopped.TrySetResult();
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/me");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens.Access);
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");

        using var response = await api.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await requestSpanStopped.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await redisSpanStopped.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var sources = seen.Select(s => s.Source).ToHashSet();
        Assert.Contains("Microsoft.AspNetCore", sources);
        Assert.Contains("Npgsql", sources);
        // The revocation check (MGET) and the rate limit (EVAL), by the Redis instrumentation.
        Assert.Contains(seen, s => s.Source == "OpenTelemetry.Instrumentation.StackExchangeRedis" && s.Name == "MGET");
    }
}
