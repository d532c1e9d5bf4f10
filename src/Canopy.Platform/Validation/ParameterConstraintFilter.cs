using System.Globalization;
using System.Text.RegularExpressions;
using Canopy.Platform.Problems;
using Canopy.Platform.Spec;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Routing;

namespace Canopy.Platform.Validation;

/// <summary>
/// Enforces the spec's constraints on query, path and header parameters (type, minimum,
/// maximum, length, pattern, enum), which NSwag does not turn into attributes. The operation is
/// found by its route name, which the generator sets to the operationId. Violations are one
/// 400 problem naming each parameter.
/// </summary>
public sealed class ParameterConstraintFilter(OperationCatalog catalog) : IAsyncActionFilter, IOrderedFilter
{
    private static readonly TimeSpan PatternTimeout = TimeSpan.FromMilliseconds(100);

    // The spec's patterns, compiled once: Regex's own cache holds only 15, fewer than the API has.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Regex> Patterns = new(StringComparer.Ordinal);

    // Before the framework's model-state check (-2000), so every parameter error shows at once.
    public int Order => -2500;

    public Task OnActionExecutionAsync(ActionExecutingContext context, ActionExecutionDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var operationId = context.HttpContext.GetEndpoint()?.Metadata.GetMetadata<IRouteNameMetadata>()?.RouteName;
        var operation = operationId is null ? null : catalog.Find(operationId);
        if (operation is not null)
        {
            var errors = Check(operation, context.HttpContext);
            if (errors.Count > 0)
            {
                throw new ProblemException(ProblemTypes.MalformedRequest, $"{errors.Count} parameter(s) are not valid.", errors);
            }
        }

        return next();
    }

    public static List<FieldError> Check(OperationSpec operation, HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(http);
        var errors = new List<FieldError>();
        foreach (var parameter in operation.Parameters)
        {
            var raw = parameter.In switch
            {
                "query" => http.Request.Query.TryGetValue(parameter.Name, out var q) ? q.ToString() : null,
                // An empty header is one not sent: generated clients send "" for an optional header left out.
                "header" => http.Request.Headers.TryGetValue(parameter.Name, out var h) && h.ToString() is { Length: > 0 } value ? value : null,
                "path" => http.GetRouteValue(parameter.Name)?.ToString(),
                _ => null,
            };
            var problem = Violation(parameter, raw);
            if (problem is not null)
            {
                errors.Add(new FieldError(problem, Parameter: parameter.Name, In: parameter.In));
            }
        }

        return errors;
    }

    public static string? Violation(ParameterSpec parameter, string? raw)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        if (raw is null)
        {
            return parameter.Required ? "This parameter is required." : null;
        }

        if (parameter.Type is "integer" or "number")
        {
            if (!decimal.TryParse(raw, parameter.Type == "integer" ? NumberStyles.AllowLeadingSign : NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                return parameter.Type == "integer" ? "Must be a whole number." : "Must be a number.";
            }

            if (parameter.Minimum is { } min && number < min)
            {
                return $"Must be at least {min.ToString(CultureInfo.InvariantCulture)}.";
            }

            if (parameter.Maximum is { } max && number > max)
            {
                return $"Must be at most {max.ToString(CultureInfo.InvariantCulture)}.";
            }

            return null;
        }

        if (parameter.MinLength is { } minLength && raw.Length < minLength)
        {
            return $"Must be at least {minLength} characters long.";
        }

        if (parameter.MaxLength is { } maxLength && raw.Length > maxLength)
        {
            return $"Must be at most {maxLength} characters long.";
        }

        if (parameter.Enum is { Count: > 0 } values && !values.Contains(raw, StringComparer.Ordinal))
        {
            return $"Must be one of: {string.Join(", ", values)}.";
        }

        if (parameter.Pattern is { } pattern)
        {
            try
            {
                var regex = Patterns.GetOrAdd(pattern, p => new Regex(p, RegexOptions.CultureInvariant | RegexOptions.Compiled, PatternTimeout));
                if (!regex.IsMatch(raw))
                {
                    return "Does not have the expected format.";
                }
            }
            catch (RegexMatchTimeoutException)
            {
                return "Does not have the expected format.";
            }
        }

        return null;
    }
}
