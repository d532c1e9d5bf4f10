namespace Canopy.Platform.Spec;

/// <summary>The OpenAPI document the service was built from, as text.</summary>
public sealed record OpenApiDocument(string Yaml);
