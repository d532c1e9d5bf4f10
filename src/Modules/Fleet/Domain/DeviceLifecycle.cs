namespace Canopy.Fleet.Domain;

/// <summary>Where a device is in its life (DESIGN.md, state machines).</summary>
internal enum DeviceState
{
    Provisioned,
    Active,
    Offline,
    Fault,
    Decommissioned,
}

/// <summary>What may be done to a device: each is one operation, named after the business.</summary>
internal enum DeviceVerb
{
    Activate,
    ReportFault,
    ClearFault,
    Move,
    Decommission,
    RotateCredential,
}

/// <summary>
/// The device state machine: PROVISIONED → ACTIVE (activate); ACTIVE ⇄ OFFLINE (silence, then
/// the next reading); ACTIVE or OFFLINE → FAULT (report-fault); FAULT → ACTIVE (clear-fault);
/// any → DECOMMISSIONED, terminal. Moving and rotating the credential keep the state and are
/// allowed until the device is decommissioned.
/// </summary>
internal static class DeviceLifecycle
{
    private static readonly DeviceVerb[] Always = [DeviceVerb.Move, DeviceVerb.Decommission, DeviceVerb.RotateCredential];

    public static IReadOnlyList<DeviceVerb> AllowedVerbs(DeviceState state) => state switch
    {
        DeviceState.Provisioned => [DeviceVerb.Activate, .. Always],
        DeviceState.Active or DeviceState.Offline => [DeviceVerb.ReportFault, .. Always],
        DeviceState.Fault => [DeviceVerb.ClearFault, .. Always],
        _ => [],
    };

    /// <summary>The state after the verb, or an <see cref="IllegalTransitionException"/> naming what is allowed instead.</summary>
    public static DeviceState Apply(DeviceState state, DeviceVerb verb)
    {
        if (!AllowedVerbs(state).Contains(verb))
        {
            throw new IllegalTransitionException(state, verb, AllowedVerbs(state));
        }

        return verb switch
        {
            DeviceVerb.Activate or DeviceVerb.ClearFault => DeviceState.Active,
            DeviceVerb.ReportFault => DeviceState.Fault,
            DeviceVerb.Decommission => DeviceState.Decommissioned,
            _ => state,
        };
    }

    /// <summary>Silence turns only an ACTIVE device OFFLINE (a FAULT one stays as it was reported).</summary>
    public static bool CanGoOffline(DeviceState state) => state == DeviceState.Active;

    /// <summary>A device that reports again: OFFLINE turns ACTIVE; every other state stays as it is.</summary>
    public static DeviceState OnReport(DeviceState state) => state == DeviceState.Offline ? DeviceState.Active : state;

    public static string Name(this DeviceState state) => state.ToString().ToUpperInvariant();

    public static DeviceState ParseState(string name) => Enum.Parse<DeviceState>(name, ignoreCase: true);

    /// <summary>The verb as it appears in its operation's path (report-fault, rotate-credential…).</summary>
    public static string Name(this DeviceVerb verb) => verb switch
    {
        DeviceVerb.ReportFault => "report-fault",
        DeviceVerb.ClearFault => "clear-fault",
        DeviceVerb.RotateCredential => "rotate-credential",
        _ => verb.ToString().ToLowerInvariant(),
    };
}

/// <summary>A verb the device's current state does not allow.</summary>
internal sealed class IllegalTransitionException(DeviceState current, DeviceVerb verb, IReadOnlyList<DeviceVerb> allowed)
    : InvalidOperationException(Describe(current, verb, allowed))
{
    public DeviceState Current { get; } = current;

    public DeviceVerb Verb { get; } = verb;

    public IReadOnlyList<DeviceVerb> Allowed { get; } = allowed;

    private static string Describe(DeviceState current, DeviceVerb verb, IReadOnlyList<DeviceVerb> allowed) =>
        allowed.Count == 0
            ? $"The device is {current.Name()}, which is final: it cannot {verb.Name()} or take any other verb."
            : $"The device is {current.Name()}: it cannot {verb.Name()}. Allowed now: {string.Join(", ", allowed.Select(v => v.Name()))}.";
}
