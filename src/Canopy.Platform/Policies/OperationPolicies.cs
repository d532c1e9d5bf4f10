using System.Globalization;
using Canopy.Platform.Security;
using Canopy.Platform.Spec;

namespace Canopy.Platform.Policies;

/// <summary>
/// The per-operation policies of the spec, checked once at start-up: every /api/ operation the
/// service serves declares its tier, roles and (for POST, PUT, PATCH) idempotency, and every
/// value is one the service knows. Anything else stops the service before it listens.
/// </summary>
public static class OperationPolicies
{
    public static readonly string[] IdempotencyModes = ["required", "optional", "none"];

    public static IReadOnlyList<string> Problems(
        OperationCatalog catalog, IReadOnlyCollection<string> servedOperationIds, IReadOnlyCollection<string> rateLimitTiers, IReadOnlyCollection<string> featureFlags)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var problems = new List<string>();
        foreach (var operation in catalog.Operations)
        {
            var x = operation.Extensions;
            var name = operation.OperationId;
            if (operation.Path.StartsWith("/api/", StringComparison.Ordinal) && servedOperationIds.Contains(name))
            {
                if (!x.ContainsKey("x-rate-limit-tier"))
                {
                    problems.Add($"{name} has no x-rate-limit-tier");
                }

                if (!x.ContainsKey("x-roles"))
                {
                    problems.Add($"{name} has no x-roles");
                }

                if (operation.Method is "POST" or "PUT" or "PATCH" && !x.ContainsKey("x-idempotency"))
                {
                    problems.Add($"{name} has no x-idempotency");
                }
            }

            if (x.TryGetValue("x-rate-limit-tier", out var tier) && !rateLimitTiers.Contains(tier))
            {
                problems.Add($"{name}: x-rate-limit-tier '{tier}' has no quota (RateLimits__Tiers__{tier})");
            }

            if (x.TryGetValue("x-roles", out var roles) && roles is not ("public" or "any" or Security.DeviceAuthentication.Role) && OperationAccessFilter.Rank(roles) < 0)
            {
                problems.Add($"{name}: x-roles '{roles}' is not a role");
            }

            if (x.TryGetValue("x-idempotency", out var mode) && !IdempotencyModes.Contains(mode))
            {
                problems.Add($"{name}: x-idempotency '{mode}' is not one of {string.Join(", ", IdempotencyModes)}");
            }

            if (x.TryGetValue("x-feature-flag", out var flag) && !featureFlags.Contains(flag))
            {
                problems.Add($"{name}: x-feature-flag '{flag}' is not declared (FeatureManagement__{flag}=true|false)");
            }

            if (x.TryGetValue(CacheTtlFilter.Extension, out var ttl) && (operation.Method != "GET" || CacheTtlFilter.Seconds(ttl) is null))
            {
                problems.Add($"{name}: x-cache-ttl '{ttl}' must be whole seconds from 1 to {CacheTtlFilter.MaxSeconds}, on a GET");
            }

            if (x.GetValueOrDefault("deprecated") == "true")
            {
                var deprecatedAt = Date(x.GetValueOrDefault("x-deprecated-at"));
                var sunset = Date(x.GetValueOrDefault("x-sunset"));
                if (deprecatedAt is null || sunset is null)
                {
                    problems.Add($"{name} is deprecated without x-deprecated-at and x-sunset (RFC 3339 dates)");
                }
                else if (sunset < deprecatedAt)
                {
                    problems.Add($"{name}: x-sunset is earlier than x-deprecated-at");
                }
            }
        }

        return problems;
    }

    public static DateTimeOffset? Date(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date) ? date : null;
}
