using Microsoft.AspNetCore.Mvc.Filters;

namespace Canopy.Api;

/// <summary>
/// A deliberate defect for the gates' self-tests: in the Test environment only, the operation
/// named by <c>Faults__FailOperation</c> throws, so the service answers it with a 500 problem.
/// The fuzz gate must then fail. Outside Test the setting is refused at start-up.
/// </summary>
internal sealed class InjectedFault(string operationId) : IActionFilter
{
    public const string Setting = "Faults:FailOperation";

    public sealed class Options
    {
        public const string Section = "Faults";

        /// <summary>The operationId that throws (Test environment only).</summary>
        public string? FailOperation { get; set; }
    }

    public void OnActionExecuting(ActionExecutingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.ActionDescriptor.AttributeRouteInfo?.Name == operationId)
        {
            throw new InvalidOperationException($"Fault injected into {operationId} ({Setting}).");
        }
    }

    public void OnActionExecuted(ActionExecutedContext context)
    {
    }
}
