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

/// <summary>
/// The problem types of the platform. Every one is listed in the spec
/// (<c>components.x-problem-types</c>) and in docs/problems.md; a test keeps the three in step.
/// </summary>
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

    public static readonly ProblemType InvalidCredentials = new(
        "invalid-credentials", 401, "We could not sign you in",
        "The e-mail address and password do not match an account that can sign in right now.",
        "Check the e-mail address and the password. After 5 failed attempts the account is locked for 15 minutes.");

    public static readonly ProblemType InvalidDeviceCredentials = new(
        "invalid-device-credentials", 401, "The device could not authenticate",
        "The device id and credential do not open a device channel right now.",
        "Check the device id and its current credential (rotating a credential revokes the previous one; a decommissioned device has none).");

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

    public static readonly ProblemType NotAcceptable = new(
        "not-acceptable", 406, "We cannot answer in the format you asked for",
        "The Accept header names no media type this operation can produce.",
        "Accept application/json (or the media type the documentation lists).");

    public static readonly ProblemType Conflict = new(
        "conflict", 409, "This conflicts with the current state",
        "The request cannot be applied to the resource in its current state.",
        "Read the resource again, then decide whether the change still makes sense.");

    public static readonly ProblemType Gone = new(
        "gone", 410, "This is no longer available",
        "What the request refers to was used up or has expired.",
        "Ask for a new one (for an invitation: ask an admin of the organisation to invite you again).");

    public static readonly ProblemType IdempotencyKeyInFlight = new(
        "idempotency-key-in-flight", 409, "A request with this Idempotency-Key is still running",
        "An earlier request with the same Idempotency-Key has not finished yet.",
        "Wait for the number of seconds in Retry-After, then send the same request again to get its answer.");

    public static readonly ProblemType PreconditionFailed = new(
        "precondition-failed", 412, "The resource has changed since you read it",
        "Someone else changed the resource after you read it.",
        "Read the resource again and repeat the change if it still makes sense.");

    public static readonly ProblemType PayloadTooLarge = new(
        "payload-too-large", 413, "The request body is too large",
        "The request body exceeds the size limit of this operation.",
        "Send a smaller body, or split the data across several requests.");

    public static readonly ProblemType UnsupportedMediaType = new(
        "unsupported-media-type", 415, "The body's media type is not supported",
        "The body was sent in a format this operation does not read.",
        "Send the body as JSON with Content-Type application/json.");

    public static readonly ProblemType ValidationFailed = new(
        "validation-failed", 422, "Your request is invalid",
        "Some values in the request are not acceptable.",
        "Correct the members listed in errors and send the request again.");

    public static readonly ProblemType IdempotencyKeyReused = new(
        "idempotency-key-reused", 422, "This Idempotency-Key was used for another request",
        "The Idempotency-Key was already used within 24 hours for a request with a different method, path or body.",
        "Use a new Idempotency-Key for a new request; reuse a key only to retry the very same request.");

    public static readonly ProblemType PreconditionRequired = new(
        "precondition-required", 428, "This change needs If-Match",
        "The change could overwrite someone else's change because no version was given.",
        "Read the resource, then send its ETag in If-Match.");

    public static readonly ProblemType QuotaExceeded = new(
        "quota-exceeded", 429, "Too many requests",
        "More requests were sent than the quota allows.",
        "Wait for the number of seconds in Retry-After, then retry.");

    public static readonly ProblemType InternalError = new(
        "internal-error", 500, "Something went wrong on our side",
        "An unexpected error happened while handling the request.",
        "Retry later; if it keeps failing, contact support with the trace_id.");

    public static readonly ProblemType ServiceUnavailable = new(
        "service-unavailable", 503, "The service is temporarily unavailable",
        "A system Canopy depends on is not answering right now.",
        "Wait for the number of seconds in Retry-After, then retry.");

    public static readonly ProblemType RequestTimeout = new(
        "request-timeout", 504, "The request took too long",
        "The request did not finish within the time the service allows; it may or may not have been applied.",
        "Retry with the same Idempotency-Key, or check the resource before retrying.");

    /// <summary>Every platform problem type.</summary>
    public static IReadOnlyList<ProblemType> All { get; } =
    [
        MalformedRequest, Unauthenticated, InvalidCredentials, InvalidDeviceCredentials, Forbidden, NotFound, MethodNotAllowed, NotAcceptable, Conflict,
        IdempotencyKeyInFlight, Gone, PreconditionFailed, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, IdempotencyKeyReused, PreconditionRequired,
        QuotaExceeded, InternalError, ServiceUnavailable, RequestTimeout,
    ];

    /// <summary>The generic type of a status code, for a bare status that no handler described.</summary>
    public static ProblemType ForStatus(int status) =>
        All.FirstOrDefault(t => t.Status == status)
        ?? (status >= 500 ? InternalError with { Status = status } : MalformedRequest with { Status = status });
}
