using Canopy.Fleet.Domain;

namespace Canopy.Fleet.Tests.Domain;

public sealed class DeviceLifecycleTests
{
    public static TheoryData<string, string, string> Transitions => new()
    {
        { "Provisioned", "Activate", "Active" },
        { "Active", "ReportFault", "Fault" },
        { "Offline", "ReportFault", "Fault" },
        { "Fault", "ClearFault", "Active" },
        { "Provisioned", "Decommission", "Decommissioned" },
        { "Active", "Decommission", "Decommissioned" },
        { "Offline", "Decommission", "Decommissioned" },
        { "Fault", "Decommission", "Decommissioned" },
        { "Fault", "Move", "Fault" },
        { "Offline", "RotateCredential", "Offline" },
    };

    [Theory]
    [MemberData(nameof(Transitions))]
    public void Given_a_verb_the_state_allows_Then_the_device_moves_to_the_state_of_the_design(string from, string verb, string to) =>
        Assert.Equal(Enum.Parse<DeviceState>(to), DeviceLifecycle.Apply(Enum.Parse<DeviceState>(from), Enum.Parse<DeviceVerb>(verb)));

    [Fact]
    public void Given_every_state_and_verb_Then_a_verb_is_applied_exactly_when_it_is_listed_as_allowed()
    {
        foreach (var state in Enum.GetValues<DeviceState>())
        {
            foreach (var verb in Enum.GetValues<DeviceVerb>())
            {
                var allowed = DeviceLifecycle.AllowedVerbs(state).Contains(verb);
                var ex = Record.Exception(() => DeviceLifecycle.Apply(state, verb));
                Assert.True(allowed == (ex is null), $"{state} {verb}: allowed {allowed}, threw {ex?.GetType().Name}");
            }
        }
    }

    [Fact]
    public void Given_a_decommissioned_device_Then_no_verb_is_allowed_and_the_refusal_says_it_is_final()
    {
        Assert.Empty(DeviceLifecycle.AllowedVerbs(DeviceState.Decommissioned));

        var ex = Assert.Throws<IllegalTransitionException>(() => DeviceLifecycle.Apply(DeviceState.Decommissioned, DeviceVerb.Activate));

        Assert.Equal(DeviceState.Decommissioned, ex.Current);
        Assert.Contains("DECOMMISSIONED, which is final", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_an_illegal_verb_Then_the_refusal_names_the_state_and_the_verbs_allowed_instead()
    {
        var ex = Assert.Throws<IllegalTransitionException>(() => DeviceLifecycle.Apply(DeviceState.Provisioned, DeviceVerb.ReportFault));

        Assert.Equal([DeviceVerb.Activate, DeviceVerb.Move, DeviceVerb.Decommission, DeviceVerb.RotateCredential], ex.Allowed);
        Assert.Equal("The device is PROVISIONED: it cannot report-fault. Allowed now: activate, move, decommission, rotate-credential.", ex.Message);
    }

    [Fact]
    public void Given_silence_Then_only_an_active_device_goes_offline()
    {
        Assert.Equal([DeviceState.Active], Enum.GetValues<DeviceState>().Where(DeviceLifecycle.CanGoOffline));
    }

    [Fact]
    public void Given_the_verbs_Then_their_names_are_the_last_segment_of_their_operations_paths()
    {
        Assert.Equal(["activate", "report-fault", "clear-fault", "move", "decommission", "rotate-credential"], Enum.GetValues<DeviceVerb>().Select(v => v.Name()));
    }
}
