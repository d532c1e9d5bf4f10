using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Canopy.Platform.Http;

public static class HttpServiceCollectionExtensions
{
    public const string CorsPolicy = "canopy";

    public static IServiceCollection AddCanopyHttp(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        services.AddOptions<HttpOptions>()
            .Bind(configuration.GetSection(HttpOptions.Section))
            .ValidateDataAnnotations()
            .Validate(o => environment.IsDevelopment() || !o.Origins.Contains("*"),
                "Http__CorsAllowedOrigins must list origins; \"*\" is allowed only in Development.")
            .Validate(o => o.Origins.All(x => x == "*" || Uri.TryCreate(x, UriKind.Absolute, out _)),
                "Http__CorsAllowedOrigins must be absolute origins such as https://app.canopy.dev.")
            .Validate(o => ParseProxies(o.TrustedProxies) is not null, "Http__TrustedProxies must be a comma-separated list of IP addresses.")
            .ValidateOnStart();
        services.AddOptions<HostOptions>().Configure<IOptions<HttpOptions>>((host, http) =>
            host.ShutdownTimeout = TimeSpan.FromSeconds(http.Value.DrainSeconds));

        services.AddCors();
        services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>().Configure<IOptions<HttpOptions>>((cors, http) =>
            cors.AddPolicy(CorsPolicy, policy =>
            {
                var origins = http.Value.Origins;
                if (origins.Contains("*"))
                {
                    policy.AllowAnyOrigin();
                }
                else
                {
                    policy.WithOrigins([.. origins]);
                }

                policy.WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
                    .WithHeaders("Authorization", "Content-Type", "Idempotency-Key", "If-Match", "If-None-Match", "traceparent", "tracestate")
                    .WithExposedHeaders("ETag", "Location", "Link", "Retry-After", "RateLimit", "RateLimit-Policy", "Idempotent-Replayed", "Deprecation", "Sunset")
                    .SetPreflightMaxAge(TimeSpan.FromMinutes(10));
            }));

        services.AddRequestTimeouts();
        services.AddOptions<RequestTimeoutOptions>().Configure<IOptions<HttpOptions>>((timeouts, http) =>
            timeouts.DefaultPolicy = new RequestTimeoutPolicy
            {
                Timeout = TimeSpan.FromSeconds(http.Value.RequestTimeoutSeconds),
                TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
            });

        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<HttpOptions>>((forwarded, http) =>
        {
            var proxies = ParseProxies(http.Value.TrustedProxies) ?? [];
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            // With no known proxy the middleware would believe every caller: no proxy, no forwarding.
            forwarded.ForwardedHeaders = proxies.Length == 0 ? ForwardedHeaders.None : ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            foreach (var proxy in proxies)
            {
                forwarded.KnownProxies.Add(proxy);
            }
        });
        return services;
    }

    /// <summary>The HTTP pipeline of the platform, in order; the host maps its endpoints after it.</summary>
    public static WebApplication UseCanopyHttp(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var http = app.Services.GetRequiredService<IOptions<HttpOptions>>().Value;
        app.UseForwardedHeaders();
        app.UseMiddleware<SecurityHeadersMiddleware>();
        if (http.RequireHttps)
        {
            app.UseHsts();
            app.UseMiddleware<HttpsOnlyMiddleware>();
        }

        app.UseRouting();
        app.Use(Spec.ResponseConformanceMiddleware.MarkOperation);
        app.UseCors(CorsPolicy);
        app.UseRequestTimeouts();
        app.UseMiddleware<OperationBodyLimitMiddleware>();
        return app;
    }

    private static IPAddress[]? ParseProxies(string proxies)
    {
        var result = new List<IPAddress>();
        foreach (var entry in proxies.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!IPAddress.TryParse(entry, out var address))
            {
                return null;
            }

            result.Add(address);
        }

        return [.. result];
    }
}
