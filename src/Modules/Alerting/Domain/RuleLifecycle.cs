namespace Canopy.Alerting.Domain;

/// <summary>Whether a rule raises alerts.</summary>
internal enum RuleState
{
    Enabled,
    Disabled,
}

/// <summary>What may be done to a rule: each is one operation, named after the business.</summary>
internal enum RuleVerb
{
    Disable,
    Enable,
}

/// <summary>The rule lifecycle: ENABLED → DISABLED (disable), DISABLED → ENABLED (enable).</summary>
internal static class RuleLifecycle
{
    public static IReadOnlyList<RuleVerb> AllowedVerbs(RuleState state) => state == RuleState.Enabled ? [RuleVerb.Disable] : [RuleVerb.Enable];

    /// <summary>The state after the verb, or an <see cref="IllegalRuleTransitionException"/> naming what is allowed instead.</summary>
    public static RuleState Apply(RuleState state, RuleVerb verb) =>
        AllowedVerbs(state).Contains(verb)
            ? verb == RuleVerb.Disable ? RuleState.Disabled : RuleState.Enabled
            : throw new IllegalRuleTransitionException(state, verb, AllowedVerbs(state));

    public static string Name(this RuleState state) => state.ToString().ToUpperInvariant();

    public static RuleState ParseState(string name) => Enum.Parse<RuleState>(name, ignoreCase: true);

    public static string Name(this RuleVerb verb) => verb.ToString().ToLowerInvariant();
}

/// <summary>A verb the rule's current state does not allow.</summary>
internal sealed class IllegalRuleTransitionException(RuleState current, RuleVerb verb, IReadOnlyList<RuleVerb> allowed)
    : InvalidOperationException($"The alert rule is {current.Name()}: it cannot {verb.Name()}. Allowed now: {string.Join(", ", allowed.Select(v => v.Name()))}.")
{
    public RuleState Current { get; } = current;

    public IReadOnlyList<RuleVerb> Allowed { get; } = allowed;
}
