using Canopy.Platform.Problems;
using FluentValidation;
using Microsoft.AspNetCore.Mvc.Filters;

namespace Canopy.Platform.Validation;

/// <summary>
/// Runs the FluentValidation validator of every action argument that has one, after the body
/// was read and the DTO's own constraints passed, and before any controller logic. Failures are
/// one 422 problem with one <c>errors[]</c> entry per violation.
/// </summary>
public sealed class ValidationFilter(IServiceProvider services) : IAsyncActionFilter, IOrderedFilter
{
    // After the framework's model-state check (-2000): a malformed body never reaches validators.
    public int Order => 0;

    public async Task OnActionExecutionAsync(ActionExecutingContext context, ActionExecutionDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var errors = new List<FieldError>();
        foreach (var argument in context.ActionArguments.Values)
        {
            if (argument is null || services.GetService(typeof(IValidator<>).MakeGenericType(argument.GetType())) is not IValidator validator)
            {
                continue;
            }

            var result = await validator.ValidateAsync(new ValidationContext<object>(argument), context.HttpContext.RequestAborted).ConfigureAwait(false);
            errors.AddRange(result.Errors.Select(e => new FieldError(e.ErrorMessage, Pointer: JsonPointer.FromPath(e.PropertyName))));
        }

        if (errors.Count > 0)
        {
            throw new ProblemException(ProblemTypes.ValidationFailed, $"The request breaks {errors.Count} rule(s).", errors);
        }

        await next().ConfigureAwait(false);
    }
}
