using System.Globalization;
using Canopy.Platform.Observability;
using Canopy.Platform.Problems;
using Canopy.Platform.Spec;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.Extensions.Options;

namespace Canopy.Platform.RateLimiting;

/// <summary>
/// Applies the operation's <c>x-rate-limit-tier</c> before access control, so refused attempts
/// (401, 403) spend the quota and carry the headers too; the caller is authenticated here when
/// a token is sent, so a quota can belong to a tenant or a user. Every response of a limited
/// operation carries <c>RateLimit-Policy</c> and <c>RateLimit</c>; over the quota the answer
/// is a 429 problem with <c>Retry-After</c> and <c>violated_policies</c>.
/// </summary>
public sealed class RateLimitFilter(OperationCatalog catalog, RateLimiter limiter, IOptions<RateLimitOptions> options, CanopyMetrics metrics) : IAsyncAuthorizationFilter
{
    public const string Extension = "x-rate-limit-tier";

    public async Task OnAuthorizationAsync(AuthorizationFilterContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var extensions = catalog.For(context.ActionDescriptor)?.Extensions;
        var tier = extensions?.GetValueOrDefault(Extension);
        if (tier is null || !options.Value.Tiers.TryGetValue(tier, out var quota))
        {
            return;
        }

        var http = context.HttpContext;
        var caller = await Security.Caller.PrincipalAsync(http, Security.DeviceAuthentication.SchemeFor(extensions?.GetValueOrDefault(Security.OperationAccessFilter.Extension))).ConfigureAwait(false);
        var decision = await limiter.CheckAsync(RateLimitKeys.For(tier, http, caller), quota, http.RequestAborted).ConfigureAwait(false);
        var policy = $"\"{tier}\";q={quota.Limit.ToString(CultureInfo.InvariantCulture)};w={quota.WindowSeconds.ToString(CultureInfo.InvariantCulture)}";
        var state = $"\"{tier}\";r={decision.Remaining.ToString(CultureInfo.InvariantCulture)};t={decision.ResetSeconds.ToString(CultureInfo.InvariantCulture)}";
        // Set as the response starts (an error page clears headers set earlier), beside any
        // policy the operation itself reports (a list of policies, as the draft allows).
        http.Response.OnStarting(() =>
        {
            Prepend(http.Response.Headers, "RateLimit-Policy", policy);
            Prepend(http.Response.Headers, "RateLimit", state);
            return Task.CompletedTask;
        });
        if (decision.Allowed)
        {
            return;
        }

        metrics.RateLimited(tier);
        http.Response.Headers.RetryAfter = decision.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        http.Response.Headers.CacheControl = "no-store";
        var problem = ProblemFactory.Create(http, ProblemTypes.QuotaExceeded,
            $"The {tier} quota of {quota.Limit} requests per {quota.WindowSeconds} seconds is used up; retry in {decision.RetryAfterSeconds} seconds.");
        problem.Extensions["violated_policies"] = new[] { tier };
        context.Result = new Microsoft.AspNetCore.Mvc.ObjectResult(problem) { StatusCode = StatusCodes.Status429TooManyRequests, ContentTypes = { ProblemFactory.MediaType } };
    }

    private static void Prepend(IHeaderDictionary headers, string name, string item) =>
        headers[name] = headers.TryGetValue(name, out var existing) && existing.Count > 0 ? $"{item}, {existing}" : item;
}

/// <summary>Whose quota a request spends, per tier (DESIGN.md).</summary>
public static class RateLimitKeys
{
    public static string For(string tier, HttpContext http, System.Security.Claims.ClaimsPrincipal? caller)
    {
        ArgumentNullException.ThrowIfNull(http);
        var ip = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var user = caller?.FindFirst("sub")?.Value;
        var tenant = caller?.FindFirst("tid")?.Value;
        var device = caller?.FindFirst("device")?.Value;
        return tier switch
        {
            "auth" => $"auth:ip:{ip}",
            "critical" => user is null ? $"critical:ip:{ip}" : $"critical:user:{user}:ip:{ip}",
            "standard" => tenant is null ? $"standard:ip:{ip}" : $"standard:tenant:{tenant}",
            "reporting" => user is null ? $"reporting:ip:{ip}" : $"reporting:user:{user}",
            "ingestion" => device is null ? $"ingestion:ip:{ip}" : $"ingestion:device:{device}",
            _ => $"{tier}:ip:{ip}",
        };
    }
}
