using System.Text.Json.Serialization;
using Canopy.Alerting;
using Canopy.Api;
using Canopy.Fleet;
using Canopy.Identity;
using Canopy.Insights;
using Canopy.Platform.Data;
using Canopy.Platform.Health;
using Canopy.Platform.Idempotency;
using Canopy.Platform.Http;
using Canopy.Platform.Metrics;
using Canopy.Platform.Messaging;
using Canopy.Platform.Migrations;
using Canopy.Platform.Observability;
using Canopy.Platform.Policies;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;
using Canopy.Platform.RateLimiting;
using Canopy.Platform.Redis;
using Canopy.Platform.Security;
using Canopy.Platform.Spec;
using Canopy.Platform.Tenancy;
using Canopy.Platform.Validation;
using Canopy.Telemetry;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding.Metadata;
using Microsoft.Extensions.Options;
using Microsoft.FeatureManagement;

[assembly: ApiController]

// "migrate" as the first argument applies pending migrations and exits (./build.sh --target=Migrate);
// "seed" applies them, fills the demo organisation once and exits (./build.sh --target=Seed).
var seedOnly = args is ["seed", ..];
var migrateOnly = args is ["migrate", ..] || seedOnly;
try
{
    var builder = WebApplication.CreateBuilder(migrateOnly ? args[1..] : args);
    var configuration = builder.Configuration;

    builder.Services.AddCanopyLogging(configuration);
    builder.Services.AddSingleton<TimeProvider>(seedOnly ? new Canopy.Api.Seeding.SeedClock() : TimeProvider.System);
    var spec = ApiDocuments.ReadSpec();
    builder.Services.AddSingleton(OperationCatalog.Parse(spec));

    builder.Services.AddCanopyTelemetry(configuration, "canopy-api");
    builder.Services.AddCanopyProblems();
    builder.Services.AddCanopyHttp(configuration, builder.Environment);
    builder.Services.AddCanopyOutboundHttp(configuration);
    builder.Services.AddCanopyPostgres(configuration);
    builder.Services.AddCanopyRedis(configuration);
    builder.Services.AddCanopyHealth(configuration);
    builder.Services.AddCanopyMetrics(configuration);
    builder.Services.AddCanopyRateLimiting(configuration);
    builder.Services.AddCanopyIdempotency();
    builder.Services.AddFeatureManagement();
    // Outside production every answer is checked against the spec (Conformance__Enabled).
    builder.Services.AddOptions<ConformanceOptions>().Bind(configuration.GetSection(ConformanceOptions.Section))
        .PostConfigure(o => o.Enabled &= !builder.Environment.IsProduction());
    builder.Services.AddCanopyMigrations(configuration, Modules.Migrations);
    builder.Services.AddIdentityModule(configuration);

    // --role all (default): API and workers in one process; --role api: no workers;
    // --role worker: workers, with only the platform endpoints (health, metrics) served.
    var role = ProcessRoles.Parse(configuration["role"] ?? configuration["Runtime:Role"]);
    builder.Services.AddCanopyMessaging(configuration, runWorkers: role != ProcessRole.Api);
    builder.Services.AddFleetModule(configuration, runWorkers: role != ProcessRole.Api);
    builder.Services.AddTelemetryModule(configuration, runWorkers: role != ProcessRole.Api);
    builder.Services.AddAlertingModule(configuration, runWorkers: role != ProcessRole.Api);
    builder.Services.AddInsightsModule();
    builder.Services.AddOptions<SlowQueryOptions>().Bind(configuration.GetSection(SlowQueryOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
    builder.Services.AddHostedService<SlowQueryLogger>();
    builder.Services.AddOptions<CursorOptions>().Bind(configuration.GetSection(CursorOptions.Section))
        .ValidateDataAnnotations().Validate(o => IsCursorKey(o.Key), "Cursors__Key must be base64 of at least 32 random bytes.").ValidateOnStart();
    builder.Services.AddSingleton<CursorCodec>();
    builder.Services.AddScoped<ITenantContext, HttpTenantContext>();
    builder.Services.AddCanopyValidators(typeof(Program).Assembly);

    builder.WebHost.ConfigureKestrel((context, kestrel) =>
    {
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxRequestBodySize = context.Configuration.GetSection(HttpOptions.Section).Get<HttpOptions>()?.MaxRequestBodyBytes
            ?? new HttpOptions().MaxRequestBodyBytes;
    });

    // A deliberate defect for the gates' self-tests: honoured in the Test environment, refused elsewhere.
    builder.Services.AddOptions<InjectedFault.Options>().Bind(configuration.GetSection(InjectedFault.Options.Section))
        .Validate<IHostEnvironment>((o, env) => string.IsNullOrEmpty(o.FailOperation) || env.IsEnvironment("Test"),
            "Faults__FailOperation is a test-only setting; remove it.")
        .ValidateOnStart();

    builder.Services
        .AddControllers(mvc =>
        {
            // Authorization filters, in this order: a switched-off operation does not exist; the
            // quota is spent by every attempt, refused ones included; then who may call.
            mvc.Filters.Add<FeatureFlagFilter>();
            mvc.Filters.Add<RateLimitFilter>();
            mvc.Filters.Add<OperationAccessFilter>();
            mvc.Filters.Add<DeprecationFilter>();
            mvc.Filters.Add<CacheTtlFilter>();
            mvc.Filters.Add<IdempotencyFilter>();
            mvc.Filters.Add<ParameterConstraintFilter>();
            mvc.Filters.Add<ValidationFilter>();
            if (configuration[InjectedFault.Setting] is { Length: > 0 } faulty)
            {
                mvc.Filters.Add(new InjectedFault(faulty));
            }
            mvc.ModelMetadataDetailsProviders.Add(new SystemTextJsonValidationMetadataProvider());
            mvc.ModelBinderProviders.Insert(0, new SpecEnumModelBinderProvider());
        })
        .AddJsonOptions(json =>
        {
            // The messages are classified, never echoed (InvalidModelStateProblems).
            json.AllowInputFormatterExceptionMessages = true;
            json.JsonSerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
            // Enums travel by their spec names, in lists too (the generated DTOs mark only single values).
            json.JsonSerializerOptions.Converters.Add(new JsonStringEnumConverter());
        })
        .ConfigureApiBehaviorOptions(api => api.InvalidModelStateResponseFactory = InvalidModelStateProblems.Create);

    var app = builder.Build();

    // Every served operation's policies come from the spec, with values the service knows.
    var operationCatalog = app.Services.GetRequiredService<OperationCatalog>();
    var actions = app.Services.GetRequiredService<Microsoft.AspNetCore.Mvc.Infrastructure.IActionDescriptorCollectionProvider>().ActionDescriptors.Items;
    var served = actions.Select(a => a.AttributeRouteInfo?.Name).OfType<string>().ToHashSet(StringComparer.Ordinal);
    // An /api/ route the spec does not describe would have no policy at all: never serve it.
    var undescribed = actions
        .Where(a => a.AttributeRouteInfo?.Template?.StartsWith("api/", StringComparison.Ordinal) == true && operationCatalog.For(a) is null)
        .Select(a => $"{string.Join('|', a.ActionConstraints?.OfType<Microsoft.AspNetCore.Mvc.ActionConstraints.HttpMethodActionConstraint>().SelectMany(c => c.HttpMethods) ?? [])} "
            + $"{a.AttributeRouteInfo!.Template} is served but its operation {a.AttributeRouteInfo.Name ?? "(unnamed)"} is not in the spec");
    if (undescribed.Concat(OperationPolicies.Problems(operationCatalog, served,
            app.Services.GetRequiredService<IOptions<RateLimitOptions>>().Value.Tiers.Keys, FeatureFlagFilter.Declared(configuration))).ToList() is { Count: > 0 } policyProblems)
    {
        throw new InvalidOperationException($"The spec's operation policies are incomplete or unknown: {string.Join("; ", policyProblems)}.");
    }

    app.UseCanopyRequestLogging();
    app.UseMiddleware<ResponseConformanceMiddleware>();
    app.UseExceptionHandler();
    app.UseStatusCodePages();
    app.UseCanopyHttp();
    if (role == ProcessRole.Worker)
    {
        app.UseMiddleware<WorkerRoleMiddleware>();
    }

    app.MapControllers();
    app.MapApiDocuments(spec);

    if (migrateOnly || app.Services.GetRequiredService<IOptions<MigrationOptions>>().Value.ApplyAtStartup)
    {
        var applied = await app.Services.GetRequiredService<MigrationRunner>().ApplyAsync(CancellationToken.None).ConfigureAwait(false);
        if (seedOnly)
        {
            return await new Canopy.Api.Seeding.DemoSeed(app.Services, configuration).RunAsync(CancellationToken.None).ConfigureAwait(false);
        }

        if (migrateOnly)
        {
            Console.WriteLine($"Canopy: {applied.Count} migration(s) applied.");
            return 0;
        }
    }

    // Connect to Redis before the first request so readiness answers at once.
    _ = app.Services.GetRequiredService<RedisConnection>().IsConnected;

    await app.RunAsync().ConfigureAwait(false);
    return 0;
}
catch (Exception ex) when (StartupFailure.IsFatal(ex) && StartupFailure.IsOwnProcess)
{
    // A configuration or database that Canopy must not run with: say which, and stop. (Hosted
    // by a test's WebApplicationFactory, the exception goes to the test instead.)
    await Console.Error.WriteLineAsync($"Canopy cannot start: {StartupFailure.Describe(ex)}").ConfigureAwait(false);
    return 1;
}

static bool IsCursorKey(string key)
{
    try
    {
        return CursorCodec.ParseKey(key).Length >= 32;
    }
    catch (OptionsValidationException)
    {
        return false;
    }
}

/// <summary>Entry point; public so integration tests can host the real application.</summary>
public partial class Program;
