using Canopy.Platform.Spec;
using Canopy.Platform.Validation;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Api.Tests.Infrastructure;

/// <summary>The real application plus <see cref="ProbeController"/> and a spec slice describing its operations.</summary>
internal static class ProbeApplication
{
    public const string Spec = """
        openapi: 3.0.3
        info: { title: probe, version: 1.0.0 }
        components:
          parameters:
            Limit:
              name: limit
              in: query
              schema: { type: integer, minimum: 1, maximum: 200 }
        paths:
          /test-only/items:
            get:
              operationId: testListItems
              parameters:
                - $ref: '#/components/parameters/Limit'
                - name: cursor
                  in: query
                  schema: { type: string, maxLength: 512, pattern: '^[A-Za-z0-9_.-]+$' }
                - name: name_prefix
                  in: query
                  schema: { type: string, minLength: 1, maxLength: 20 }
            post:
              operationId: testCreateItem
          /test-only/undocumented:
            get:
              operationId: testUndocumented
              responses:
                '200':
                  description: Activated.
                  content:
                    application/json: {}
          /test-only/old:
            get:
              operationId: testOld
              deprecated: true
              x-deprecated-at: '2026-11-01T00:00:00Z'
              x-sunset: '2027-05-01T12:00:00Z'
          /test-only/cached:
            get:
              operationId: testCached
              x-cache-ttl: 30
          /test-only/preview:
            get:
              operationId: testPreview
              x-roles: any
              x-feature-flag: preview_reports
          /test-only/flaky:
            post:
              operationId: testFlaky
              x-idempotency: required
          /test-only/upload:
            post:
              operationId: testUpload
              x-max-body-bytes: 2048
        """;

    public static CanopyApiFactory Create(IReadOnlyDictionary<string, string?>? settings = null, Action<IServiceCollection>? more = null) =>
        new(WithDefaults(settings), services =>
        {
            services.AddControllers().AddApplicationPart(typeof(ProbeController).Assembly);
            services.AddCanopyValidators(typeof(ProbeController).Assembly);
            services.AddSingleton(OperationCatalog.Parse(WithRealSpec(Spec)));
            more?.Invoke(services);
        });

    /// <summary>The service's own spec with the probe's paths added, so real operations keep their policies.</summary>
    public static string WithRealSpec(string probeSpec)
    {
        using var stream = typeof(Program).Assembly.GetManifestResourceStream("Canopy.Api.openapi.yaml")!;
        var real = new StreamReader(stream).ReadToEnd();
        var probePaths = probeSpec[(probeSpec.IndexOf("\npaths:\n", StringComparison.Ordinal) + "\npaths:\n".Length)..];
        return real.Replace("\npaths:\n", "\npaths:\n" + probePaths.TrimEnd('\n') + "\n", StringComparison.Ordinal);
    }

    // The probe's flag must be declared (off unless a test turns it on).
    private static Dictionary<string, string?> WithDefaults(IReadOnlyDictionary<string, string?>? settings)
    {
        var all = new Dictionary<string, string?> { ["FeatureManagement:preview_reports"] = "false" };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return all;
    }
}
