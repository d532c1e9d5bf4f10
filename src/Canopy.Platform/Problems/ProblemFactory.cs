using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;

namespace Canopy.Platform.Problems;

/// <summary>Builds RFC 9457 problem details with Canopy's members from a <see cref="ProblemType"/>.</summary>
public static class ProblemFactory
{
    public const string MediaType = "application/problem+json";

    /// <summary>The problem type of the current response, for the request log.</summary>
    public const string ProblemTypeItem = "canopy.problem-type";

    /// <summary>
    /// The tag that ASP.NET Core's request-duration histogram gets for a problem answer, so
    /// problems are counted by type and status with every other request
    /// (<c>…http_server_request_duration_count{problem_type="not-found"}</c>).
    /// </summary>
    public const string MetricTag = "problem_type";

    public static ProblemDetails Create(HttpContext context, ProblemType type, string? detail = null, IReadOnlyList<FieldError>? errors = null)
    {
        var problem = new ProblemDetails { Status = type.Status };
        Complete(problem, context, type, detail);
        if (errors is { Count: > 0 })
        {
            problem.Extensions["errors"] = errors.Select(ToMember).ToList();
        }

        return problem;
    }

    /// <summary>Fills every member the spec requires; an already chosen Canopy type is kept.</summary>
    public static void Complete(ProblemDetails problem, HttpContext context, ProblemType? type = null, string? detail = null)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(context);
        type ??= ProblemTypes.All.FirstOrDefault(t => t.Uri == problem.Type && t.Status == problem.Status)
            ?? ProblemTypes.ForStatus(problem.Status ?? context.Response.StatusCode);
        problem.Status = type.Status;
        problem.Type = type.Uri;
        problem.Title = type.Title;
        problem.Detail = detail ?? (IsOwnDetail(problem.Detail) ? problem.Detail : type.HumanReadableCause);
        problem.Instance = context.Request.Path.Value ?? "/";
        problem.Extensions["human_readable_cause"] = type.HumanReadableCause;
        problem.Extensions["suggested_action"] = type.SuggestedAction;
        problem.Extensions["trace_id"] = TraceIdOf(context);
        problem.Extensions.Remove("traceId");
        problem.Extensions.Remove("requestId");
        context.Items[ProblemTypeItem] = type.Slug;
        if (context.Features.Get<IHttpMetricsTagsFeature>()?.Tags is { } tags)
        {
            // A problem can be completed twice (made here, then written by the problem service).
            foreach (var earlier in tags.Where(t => t.Key == MetricTag).ToList())
            {
                tags.Remove(earlier);
            }

            tags.Add(new KeyValuePair<string, object?>(MetricTag, type.Slug));
        }
    }

    public static ObjectResult Result(HttpContext context, ProblemType type, string? detail = null) =>
        new(Create(context, type, detail))
        {
            StatusCode = type.Status,
            ContentTypes = { MediaType },
        };

    private static Dictionary<string, string> ToMember(FieldError error)
    {
        var member = new Dictionary<string, string>(StringComparer.Ordinal);
        if (error.Pointer is not null)
        {
            member["pointer"] = error.Pointer;
        }

        if (error.Parameter is not null)
        {
            member["parameter"] = error.Parameter;
        }

        if (error.In is not null)
        {
            member["in"] = error.In;
        }

        member["detail"] = error.Detail;
        return member;
    }

    // The framework's stock details ("See the errors property for details.", RFC links) say
    // nothing a reader can use; Canopy's own details are kept.
    private static bool IsOwnDetail(string? detail) =>
        !string.IsNullOrWhiteSpace(detail) && !detail.StartsWith("See the errors", StringComparison.Ordinal);

    private static string TraceIdOf(HttpContext context) =>
        Activity.Current?.TraceId.ToHexString()
        ?? context.Features.Get<IHttpActivityFeature>()?.Activity.TraceId.ToHexString()
        ?? ActivityTraceId.CreateRandom().ToHexString();
}
