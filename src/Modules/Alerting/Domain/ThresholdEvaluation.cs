using System.Globalization;

namespace Canopy.Alerting.Domain;

/// <summary>A reading of the watched metric: when it was recorded and its value.</summary>
internal readonly record struct TimedValue(DateTimeOffset At, double Value);

/// <summary>
/// A rule's condition on one value: a comparison with its threshold, or, for
/// <c>outside_target</c>, leaving the device's zone's target range (both ends within).
/// </summary>
internal sealed record Condition(string Operator, double? Threshold, double? TargetMin, double? TargetMax)
{
    /// <summary>Whether the condition can be judged at all: an <c>outside_target</c> rule whose zone has no range for the metric watches nothing.</summary>
    public bool CanJudge => Operator == RuleChecks.OutsideTarget ? TargetMin is not null && TargetMax is not null : Threshold is not null;

    public bool Breaks(double value) => Operator switch
    {
        "gt" => value > Threshold,
        "gte" => value >= Threshold,
        "lt" => value < Threshold,
        "lte" => value <= Threshold,
        RuleChecks.OutsideTarget => value < TargetMin || value > TargetMax,
        _ => throw new ArgumentOutOfRangeException(nameof(value), Operator, "Unknown operator."),
    };

    /// <summary>The condition in words, after the value: "above 30", "outside the zone's target 18–26".</summary>
    public string Phrase() => Operator switch
    {
        "gt" => $"above {Number(Threshold)}",
        "gte" => $"at or above {Number(Threshold)}",
        "lt" => $"below {Number(Threshold)}",
        "lte" => $"at or below {Number(Threshold)}",
        _ => $"outside the zone's target {Number(TargetMin)}–{Number(TargetMax)}",
    };

    public static string Number(double? value) => value?.ToString("0.###", CultureInfo.InvariantCulture) ?? "?";
}

/// <summary>What evaluation remembers of one (rule, device) between batches.</summary>
internal sealed record BreachState(DateTimeOffset? BreachSince, DateTimeOffset? ClearSince, DateTimeOffset? EvaluatedUntil)
{
    public static BreachState None { get; } = new(null, null, null);
}

/// <summary>An alert raised (<see cref="Raise"/>) or resolved by itself, at the reading that decided it.</summary>
internal readonly record struct Transition(bool Raise, TimedValue Reading);

/// <summary>The outcome of one batch for one (rule, device): the state to keep, the transitions in order, and the last breaking reading while an alert is open (the extension).</summary>
internal sealed record Evaluation(BreachState Next, IReadOnlyList<Transition> Transitions, TimedValue? LastBreach, bool OpenAfter);

/// <summary>
/// Streaming evaluation of a threshold rule on one device's readings, in recorded time. A run
/// of breaking readings raises an alert once it has lasted the rule's <c>for_seconds</c>
/// (at its first breaking reading when that is 0); while the alert is open, every breaking
/// reading extends it; a run of readings within the rule that lasts <c>for_seconds</c> resolves
/// it. Readings not newer than the last evaluated one (late or repeated) are skipped: they
/// cannot rewrite an outcome already announced.
/// </summary>
internal static class ThresholdEvaluation
{
    public static Evaluation Evaluate(Condition condition, int forSeconds, BreachState state, bool alertOpen, IEnumerable<TimedValue> readings)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(readings);
        var hold = TimeSpan.FromSeconds(forSeconds);
        var (breachSince, clearSince, until) = (state.BreachSince, state.ClearSince, state.EvaluatedUntil);
        var open = alertOpen;
        var transitions = new List<Transition>();
        TimedValue? lastBreach = null;
        foreach (var reading in readings.Where(r => state.EvaluatedUntil is not { } seen || r.At > seen).OrderBy(r => r.At))
        {
            until = reading.At;
            if (condition.Breaks(reading.Value))
            {
                clearSince = null;
                breachSince ??= reading.At;
                if (!open && reading.At - breachSince >= hold)
                {
                    open = true;
                    transitions.Add(new Transition(true, reading));
                }

                lastBreach = open ? reading : lastBreach;
            }
            else
            {
                breachSince = null;
                clearSince ??= reading.At;
                if (open && reading.At - clearSince >= hold)
                {
                    open = false;
                    lastBreach = null;
                    transitions.Add(new Transition(false, reading));
                }
            }
        }

        return new Evaluation(new BreachState(breachSince, clearSince, until), transitions, lastBreach, open);
    }

    /// <summary>The sentence on call reads when a rule raises an alert.</summary>
    public static string Summary(string ruleName, string serialNumber, string metric, Condition condition, int forSeconds, double value)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var held = forSeconds == 0 ? "" : $" for at least {Duration(forSeconds)}";
        return $"Device {serialNumber}: {metric} at {Condition.Number(value)} is {condition.Phrase()}{held} (rule \"{ruleName}\").";
    }

    private static string Duration(int seconds) => seconds % 3600 == 0 ? $"{seconds / 3600} h" : seconds % 60 == 0 ? $"{seconds / 60} min" : $"{seconds} s";
}
