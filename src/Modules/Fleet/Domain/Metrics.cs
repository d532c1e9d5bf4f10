using Canopy.Platform.Domain;

namespace Canopy.Fleet.Domain;

/// <summary>A zone's target for one metric: min not above max, both physically possible.</summary>
internal sealed class TargetRangeMustBePlausibleRule(MetricKind metric, double min, double max) : IBusinessRule
{
    public bool IsBroken() => Message.Length > 0;

    public string Message =>
        min < metric.Min || max > metric.Max ? $"A {metric.Name} target must lie within {metric.Min}…{metric.Max} {metric.Unit}."
        : min > max ? $"The {metric.Name} target's min ({min}) is above its max ({max})."
        : "";
}

/// <summary>A device reports only metrics its model can measure.</summary>
internal sealed class DeviceMetricsMustBeOfItsModelRule(IReadOnlyCollection<string> requested, IReadOnlyCollection<string> model, string modelId) : IBusinessRule
{
    public bool IsBroken() => requested.Except(model).Any();

    public string Message => $"Model {modelId} does not report {string.Join(", ", requested.Except(model))}; it reports {string.Join(", ", model)}.";
}

/// <summary>An IANA time zone this service knows (used for a farm's daily rollups and schedules).</summary>
internal sealed class TimeZoneMustBeKnownRule(string timeZone) : IBusinessRule
{
    public bool IsBroken() => !TimeZoneInfo.TryFindSystemTimeZoneById(timeZone, out var zone) || !zone.HasIanaId;

    public string Message => "The time zone is not an IANA time zone name (for example Europe/Amsterdam or America/Chicago).";
}

/// <summary>A business rule: broken or not, and what to tell the caller when it is.</summary>
internal interface IBusinessRule
{
    bool IsBroken();

    string Message { get; }
}
