namespace Canopy.Alerting.Domain;

/// <summary>Where an alert is (DESIGN.md, state machines).</summary>
internal enum AlertState
{
    Open,
    Acknowledged,
    Resolved,
}

/// <summary>What a member may do to an alert.</summary>
internal enum AlertVerb
{
    Acknowledge,
    Resolve,
}

/// <summary>
/// The alert lifecycle: OPEN → ACKNOWLEDGED (acknowledge) → RESOLVED (resolve); OPEN → RESOLVED
/// (resolve, or by itself when its condition clears or its fault is cleared). RESOLVED is final.
/// </summary>
internal static class AlertLifecycle
{
    public static IReadOnlyList<AlertVerb> AllowedVerbs(AlertState state) => state switch
    {
        AlertState.Open => [AlertVerb.Acknowledge, AlertVerb.Resolve],
        AlertState.Acknowledged => [AlertVerb.Resolve],
        _ => [],
    };

    /// <summary>The state after the verb, or an <see cref="IllegalAlertTransitionException"/> naming what is allowed instead.</summary>
    public static AlertState Apply(AlertState state, AlertVerb verb) =>
        AllowedVerbs(state).Contains(verb)
            ? verb == AlertVerb.Acknowledge ? AlertState.Acknowledged : AlertState.Resolved
            : throw new IllegalAlertTransitionException(state, verb, AllowedVerbs(state));

    public static string Name(this AlertState state) => state.ToString().ToUpperInvariant();

    public static AlertState ParseState(string name) => Enum.Parse<AlertState>(name, ignoreCase: true);

    public static string Name(this AlertVerb verb) => verb.ToString().ToLowerInvariant();

    /// <summary>How urgent a device's fault is: a low battery can wait for the next round; every other fault stops readings or falsifies them.</summary>
    public static string FaultSeverity(string faultCode) => faultCode == "battery_low" ? "warning" : "critical";

    /// <summary>A zone's silence: one device may be a flat battery, several at once a gateway or the power.</summary>
    public static string OfflineSeverity(int silentDevices) => silentDevices > 1 ? "critical" : "warning";

    /// <summary>The sentence on call reads when a zone's first device goes silent (the alert counts the others that follow).</summary>
    public static string OfflineSummary(string serialNumber, DateTimeOffset? lastSeenAt) =>
        lastSeenAt is { } seen
            ? $"Device {serialNumber} stopped reporting (last reading {seen.UtcDateTime:yyyy-MM-dd HH:mm} UTC); other devices of its zone that go silent join this alert."
            : $"Device {serialNumber} stopped reporting; other devices of its zone that go silent join this alert.";

    /// <summary>The longest summary an alert keeps (the column's CHECK).</summary>
    public const int MaxSummary = 600;

    /// <summary>The sentence on call reads for a device's fault; a note too long for it is cut with an ellipsis (the device keeps the whole note).</summary>
    public static string FaultSummary(string serialNumber, string faultCode, string note)
    {
        ArgumentNullException.ThrowIfNull(note);
        var frame = $"Device {serialNumber} reports a fault: {faultCode} ().";
        var room = MaxSummary - frame.Length;
        var shown = note.Length <= room ? note : string.Concat(note.AsSpan(0, Math.Max(0, room - 1)), "…");
        return $"Device {serialNumber} reports a fault: {faultCode} ({shown}).";
    }
}

/// <summary>A verb the alert's current state does not allow.</summary>
internal sealed class IllegalAlertTransitionException(AlertState current, AlertVerb verb, IReadOnlyList<AlertVerb> allowed)
    : InvalidOperationException(allowed.Count == 0
        ? $"The alert is {current.Name()}, which is final: it cannot {verb.Name()}."
        : $"The alert is {current.Name()}: it cannot {verb.Name()}. Allowed now: {string.Join(", ", allowed.Select(v => v.Name()))}.")
{
    public AlertState Current { get; } = current;

    public IReadOnlyList<AlertVerb> Allowed { get; } = allowed;
}
