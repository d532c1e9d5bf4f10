using System.Reflection;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Canopy.Platform.Validation;

public static class ValidationServiceCollectionExtensions
{
    /// <summary>
    /// Registers every FluentValidation validator found in the assemblies (the registry lacks
    /// FluentValidation.DependencyInjectionExtensions) and makes errors use JSON member names.
    /// </summary>
    public static IServiceCollection AddCanopyValidators(this IServiceCollection services, params Assembly[] assemblies)
    {
        ArgumentNullException.ThrowIfNull(assemblies);
        ValidatorOptions.Global.PropertyNameResolver = JsonPropertyNameResolver.Resolve;
        foreach (var type in assemblies.SelectMany(a => a.GetTypes()).Where(t => t is { IsAbstract: false, IsGenericTypeDefinition: false }))
        {
            foreach (var contract in type.GetInterfaces().Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IValidator<>)))
            {
                services.AddSingleton(contract, type);
            }
        }

        return services;
    }
}
