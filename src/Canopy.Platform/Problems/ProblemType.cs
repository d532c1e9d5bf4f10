namespace Canopy.Platform.Problems;

/// <summary>
/// A documented kind of problem (RFC 9457 <c>type</c>). Its title, cause and suggested action
/// are the same for every occurrence; <c>detail</c> is per occurrence.
/// </summary>
public sealed record ProblemType(
    string Slug,
    int Status,
    string Title,
    string HumanReadableCause,
    string SuggestedAction)
{
    public const string BaseUri = "https://canopy.dev/problems/";

    public string Uri => BaseUri + Slug;
}

/// <summary>The problem types the platform itself produces. Every one is listed in docs/problems.md.</summary>
public static class ProblemTypes
{
    public static readonly ProblemType MalformedRequest = new(
        "malformed-request", 400, "Your request could not be read",
        "The request is not well-formed: a value has the wrong syntax or type.",
        "Correct the request as described in detail and errors, then send it again.");

    public static readonly ProblemType Unauthenticated = new(
        "unauthenticated", 401, "You are not signed in",
        "No valid access token was sent with the request.",
        "Sign in or refresh the access token, then send the request again.");

    public static readonly ProblemType Forbidden = new(
        "forbidden", 403, "You are not allowed to do this",
        "Your credentials do not allow this operation.",
        "Ask an administrator for access, or use credentials that have it.");

    public static readonly ProblemType NotFound = new(
        "not-found", 404, "We could not find that",
        "Nothing exists at this address, or it is not visible to you.",
        "Check the address and the id in it.");

    public static readonly ProblemType MethodNotAllowed = new(
        "method-not-allowed", 405, "This method is not allowed here",
        "The path exists but does not accept this HTTP method.",
        "Use one of the methods listed in the Allow header.");

    public static readonly ProblemType InternalError = new(
        "internal-error", 500, "Something went wrong on our side",
        "An unexpected error happened while handling the request.",
        "Retry later; if it keeps failing, contact support with the trace_id.");

    public static readonly ProblemType ServiceUnavailable = new(
        "service-unavailable", 503, "The service is temporarily unavailable",
        "A system Canopy depends on is not answering right now.",
        "Wait a moment, then retry.");

    /// <summary>Every platform problem type, for docs and tests.</summary>
    public static IReadOnlyList<ProblemType> All { get; } =
        [MalformedRequest, Unauthenticated, Forbidden, NotFound, MethodNotAllowed, InternalError, ServiceUnavailable];

    /// <summary>The type used for a bare status code that no handler described.</summary>
    public static ProblemType ForStatus(int status) =>
        All.FirstOrDefault(t => t.Status == status)
        ?? (status >= 500 ? InternalError with { Status = status } : MalformedRequest with { Status = status });
}
