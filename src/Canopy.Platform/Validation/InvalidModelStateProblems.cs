using System.Text.RegularExpressions;
using Canopy.Platform.Problems;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding;

namespace Canopy.Platform.Validation;

/// <summary>
/// Turns what model binding and DTO validation found into one problem. Syntax and type errors
/// (bad JSON, a value of the wrong type, a malformed path or query value) are 400
/// malformed-request; well-formed input that breaks the schema's rules (a required member
/// missing, an unknown member, a value out of range) is 422 validation-failed. The framework's
/// own messages can name .NET types: they are classified here, never echoed.
/// </summary>
public static partial class InvalidModelStateProblems
{
    private const string RequiredParameter = "This parameter is required.";

    public static IActionResult Create(ActionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var parameters = context.ActionDescriptor.Parameters
            .Where(p => p.BindingInfo?.BindingSource is { } s && (s == BindingSource.Path || s == BindingSource.Query || s == BindingSource.Header))
            .ToDictionary(p => p.BindingInfo?.BinderModelName ?? p.Name, p => Location(p.BindingInfo!.BindingSource!), StringComparer.OrdinalIgnoreCase);

        var malformed = new List<FieldError>();
        var invalid = new List<FieldError>();
        foreach (var (key, entry) in context.ModelState)
        {
            foreach (var error in entry.Errors)
            {
                Classify(key, error, parameters, malformed, invalid);
            }
        }

        // A guarded change sent without If-Match is a missing precondition (428), not bad syntax:
        // the spec declares the header required so clients send it, and API-RULES.md says 428.
        if (malformed.Count > 0 && malformed.All(IsMissingIfMatch))
        {
            return new ObjectResult(ProblemFactory.Create(context.HttpContext, ProblemTypes.PreconditionRequired,
                "This change needs If-Match with the ETag you last read.", malformed))
            {
                StatusCode = ProblemTypes.PreconditionRequired.Status,
                ContentTypes = { ProblemFactory.MediaType },
            };
        }

        var (type, errors) = malformed.Count > 0 ? (ProblemTypes.MalformedRequest, malformed) : (ProblemTypes.ValidationFailed, invalid);
        var detail = malformed.Count > 0
            ? $"The request could not be read: {errors.Count} value(s) are malformed or of the wrong type."
            : $"The request breaks {errors.Count} rule(s).";
        return new ObjectResult(ProblemFactory.Create(context.HttpContext, type, detail, errors))
        {
            StatusCode = type.Status,
            ContentTypes = { ProblemFactory.MediaType },
        };
    }

    private static void Classify(string key, ModelError error, Dictionary<string, string> parameters, List<FieldError> malformed, List<FieldError> invalid)
    {
        var message = error.Exception?.Message ?? error.ErrorMessage ?? "";
        var parameterName = key.Split('.', '[')[0];
        if (parameters.TryGetValue(parameterName, out var location) && !key.StartsWith('$'))
        {
            // "…is required" (DataAnnotations), "…was not provided" ([BindRequired] on a header).
            var detail = error.Exception is null && (message.Contains("required", StringComparison.OrdinalIgnoreCase) || message.Contains("not provided", StringComparison.Ordinal))
                ? RequiredParameter
                : "The value is not valid for this parameter.";
            malformed.Add(new FieldError(detail, Parameter: parameterName, In: location));
            return;
        }

        var missing = MissingRequired().Match(message);
        if (missing.Success)
        {
            foreach (Match name in QuotedName().Matches(missing.Groups[1].Value))
            {
                invalid.Add(new FieldError("This member is required.", Pointer: Child(key, name.Groups[1].Value)));
            }

            return;
        }

        var unknown = UnmappedMember().Match(message);
        if (unknown.Success)
        {
            invalid.Add(new FieldError("This member is not part of the request schema.", Pointer: Child(ParentOf(key), unknown.Groups[1].Value)));
            return;
        }

        if (key.StartsWith('$') || key.Length == 0 || error.Exception is not null)
        {
            var detail = key.Length == 0 || message.Contains("non-empty request body", StringComparison.Ordinal)
                ? "A JSON request body is required."
                : "The value is not valid JSON or has the wrong type.";
            malformed.Add(new FieldError(detail, Pointer: JsonPointer.FromPath(key)));
            return;
        }

        invalid.Add(new FieldError(Sanitise(message), Pointer: JsonPointer.FromPath(key)));
    }

    private static bool IsMissingIfMatch(FieldError error) =>
        error is { In: "header", Detail: RequiredParameter } && string.Equals(error.Parameter, "If-Match", StringComparison.OrdinalIgnoreCase);

    private static string Child(string key, string name) =>
        JsonPointer.FromPath(key) is var parent && parent == "#" ? "#/" + name : parent + "/" + name;

    private static string ParentOf(string key)
    {
        var pointerPath = key.TrimEnd();
        var cut = Math.Max(pointerPath.LastIndexOf('.'), pointerPath.LastIndexOf('['));
        return cut <= 0 ? "$" : pointerPath[..cut];
    }

    // DataAnnotations messages name the member, never a type; keep them short and plain.
    private static string Sanitise(string message) =>
        message.Length is > 0 and <= 300 && !message.Contains("System.", StringComparison.Ordinal) ? message : "The value breaks a rule of the schema.";

    private static string Location(BindingSource source) =>
        source == BindingSource.Path ? "path" : source == BindingSource.Query ? "query" : "header";

    [GeneratedRegex("missing required properties including: (.+?)\\.?( Path:|$)")]
    private static partial Regex MissingRequired();

    [GeneratedRegex("'([^']+)'")]
    private static partial Regex QuotedName();

    [GeneratedRegex("The JSON property '([^']+)' could not be mapped")]
    private static partial Regex UnmappedMember();
}
