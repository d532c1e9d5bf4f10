namespace Canopy.Platform.Problems;

/// <summary>One violated rule: a body member (JSON pointer) or a parameter (name and location).</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "'pointer' is RFC 6901's and RFC 9457's term.")]
public sealed record FieldError(string Detail, string? Pointer = null, string? Parameter = null, string? In = null);

/// <summary>
/// Raised by features for an expected failure the caller can act on (a rule broken, a state
/// conflict, a stale version). The exception handler turns it into the problem it describes;
/// it is not logged as an error.
/// </summary>
public class ProblemException : Exception
{
    public ProblemException(ProblemType type, string detail, IReadOnlyList<FieldError>? errors = null)
        : base(detail)
    {
        Type = type;
        Errors = errors ?? [];
    }

    public ProblemException()
        : this(ProblemTypes.InternalError, ProblemTypes.InternalError.HumanReadableCause)
    {
    }

    public ProblemException(string message)
        : this(ProblemTypes.InternalError, message)
    {
    }

    public ProblemException(string message, Exception innerException)
        : base(message, innerException)
    {
        Type = ProblemTypes.InternalError;
        Errors = [];
    }

    public ProblemType Type { get; }

    public IReadOnlyList<FieldError> Errors { get; }

    /// <summary>Extra members of the problem (e.g. <c>allowed_verbs</c>), serialised as they are.</summary>
    public IDictionary<string, object?> Extensions { get; } = new Dictionary<string, object?>();

    /// <summary>Response headers that belong to the problem (e.g. <c>Retry-After</c>); set after the response is cleared.</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
}
