using Canopy.Platform.Problems;

namespace Canopy.Api;

/// <summary>What this process runs: the API, the workers, or both (the default).</summary>
public enum ProcessRole
{
    All,
    Api,
    Worker,
}

internal static class ProcessRoles
{
    public static ProcessRole Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "all" => ProcessRole.All,
        "api" => ProcessRole.Api,
        "worker" => ProcessRole.Worker,
        _ => throw new Microsoft.Extensions.Options.OptionsValidationException("role", typeof(ProcessRole), [$"--role (Runtime__Role) must be all, api or worker, not '{value}'."]),
    };
}


internal sealed class WorkerRoleMiddleware(RequestDelegate next)
{
    /// <summary>A worker process answers its health and metrics only; the API is served elsewhere.</summary>
    public Task InvokeAsync(HttpContext context) =>
        context.Request.Path.StartsWithSegments("/health", StringComparison.Ordinal) || context.Request.Path.StartsWithSegments("/metrics", StringComparison.Ordinal)
            ? next(context)
            : throw new ProblemException(ProblemTypes.NotFound, "This is a worker process; the API is served by the API processes.");
}
