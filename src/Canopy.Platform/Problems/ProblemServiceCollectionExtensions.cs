using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Platform.Problems;

public static class ProblemServiceCollectionExtensions
{
    /// <summary>Every 4XX/5XX the service produces, its own or the framework's, as a Canopy problem.</summary>
    public static IServiceCollection AddCanopyProblems(this IServiceCollection services)
    {
        services.AddSingleton<IProblemDetailsWriter, ProblemJsonWriter>();
        services.AddProblemDetails(o => o.CustomizeProblemDetails = c => ProblemFactory.Complete(c.ProblemDetails, c.HttpContext));
        services.AddExceptionHandler<ProblemExceptionHandler>();
        return services;
    }
}
