using Canopy.Platform.Migrations;
using Canopy.Platform.Problems;
using Canopy.Platform.Security;
using Canopy.Telemetry.Features;
using Canopy.Telemetry.Security;
using Canopy.Telemetry.Streaming;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// Problem answers for invalid input, binding-source inference: as for every Canopy controller.
[assembly: ApiController]

namespace Canopy.Telemetry;

public static class TelemetryModule
{
    public static MigrationSource Migrations { get; } = MigrationSource.FromAssembly("telemetry", typeof(TelemetryModule).Assembly);

    /// <summary>
    /// The Telemetry module: device tokens (their own scheme and keys, validated at start-up),
    /// ingestion, range queries and live streams; the rollup and partition workers run where
    /// workers run (<paramref name="runWorkers"/>).
    /// </summary>
    public static IServiceCollection AddTelemetryModule(this IServiceCollection services, IConfiguration configuration, bool runWorkers)
    {
        services.AddOptions<TelemetryOptions>().Bind(configuration.GetSection(TelemetryOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<DeviceSigningKeys>();
        services.AddSingleton<DeviceTokens>();
        services.AddSingleton<TelemetryMetrics>();
        services.AddSingleton<DeviceTokenGrants>();
        services.AddSingleton<LiveReadings>();
        services.AddSingleton<Ingestion>();
        services.AddSingleton<History>();
        services.AddSingleton<EventStream>();
        services.AddSingleton<RollupWorker>();
        services.AddSingleton<RollupRebuild>();
        services.AddSingleton<PartitionWorker>();
        services.AddSingleton(sp => new TelemetryFeatures(
            sp.GetRequiredService<DeviceTokenGrants>(), sp.GetRequiredService<Ingestion>(), sp.GetRequiredService<History>(), sp.GetRequiredService<EventStream>()));
        services.AddHostedService<KeyCheck>();
        if (runWorkers)
        {
            services.AddHostedService(sp => sp.GetRequiredService<RollupWorker>());
            services.AddHostedService(sp => sp.GetRequiredService<PartitionWorker>());
        }

        services.AddAuthentication().AddJwtBearer(DeviceAuthentication.Scheme);
        services.AddOptions<JwtBearerOptions>(DeviceAuthentication.Scheme).Configure<DeviceTokens>((bearer, tokens) =>
        {
            bearer.MapInboundClaims = false;
            bearer.UseSecurityTokenValidators = false;
            bearer.TokenValidationParameters = tokens.ValidationParameters();
            bearer.Events = new JwtBearerEvents { OnChallenge = WriteChallengeAsync };
        });
        services.AddMvcCore().AddApplicationPart(typeof(TelemetryModule).Assembly);
        // A batch's readings are not visited one by one by MVC's validation: their members are
        // required by the JSON contract (a missing one fails deserialisation) and their
        // [Required] marks sit on value types, so the visit of up to 5,000 items found nothing
        // while being the largest managed cost in a profile of ingestion; ReadingRules checks
        // every reading.
        // The batch's own bounds (1 to 5,000 readings) are still validated.
        services.Configure<MvcOptions>(mvc => mvc.ModelMetadataDetailsProviders.Add(
            new Microsoft.AspNetCore.Mvc.ModelBinding.SuppressChildValidationMetadataProvider(typeof(List<Canopy.Contracts.Reading>))));
        return services;
    }

    /// <summary>No device token, or one that is not valid: the same problem as every refused device.</summary>
    private static async Task WriteChallengeAsync(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var http = context.HttpContext;
        var presented = context.AuthenticateFailure is not null;
        http.Response.Headers.WWWAuthenticate = presented ? "Bearer error=\"invalid_token\"" : "Bearer";
        var result = ProblemFactory.Result(http, presented ? ProblemTypes.InvalidDeviceCredentials : ProblemTypes.Unauthenticated, presented
            ? "The device token is not valid: it is malformed, expired, not yet valid, or not a device token of Canopy."
            : "This operation needs a device token (Authorization: Bearer …) from issueDeviceToken.");
        await result.ExecuteResultAsync(new ActionContext { HttpContext = http, RouteData = new(), ActionDescriptor = new() }).ConfigureAwait(false);
    }

    /// <summary>Reads the device-token keys when the service starts: a missing or malformed key stops it before it listens.</summary>
    private sealed class KeyCheck(DeviceSigningKeys keys) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = keys;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
