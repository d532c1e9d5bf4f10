namespace Canopy.Api;

/// <summary>Serves the OpenAPI document the service was built from, and a docs page over it.</summary>
internal static class ApiDocuments
{
    /// <summary>The static routes the route-parity gate ignores: they document the API, they are not in it.</summary>
    public static readonly string[] Routes = ["/openapi/v1.yaml"];

    private const string Resource = "Canopy.Api.openapi.yaml";

    public static void MapApiDocuments(this WebApplication app, string spec)
    {
        app.MapGet(Routes[0], () => Results.Text(spec, "application/yaml; charset=utf-8"))
            .ExcludeFromDescription();
        app.UseSwaggerUI(options =>
        {
            options.RoutePrefix = "docs";
            options.DocumentTitle = "Canopy API";
            options.SwaggerEndpoint(Routes[0], "Canopy API v1");
        });
    }

    public static string ReadSpec()
    {
        using var stream = typeof(ApiDocuments).Assembly.GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"The embedded OpenAPI document {Resource} is missing from the build.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
