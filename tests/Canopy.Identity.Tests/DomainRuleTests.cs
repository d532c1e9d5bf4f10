using Canopy.Identity.Domain;

namespace Canopy.Identity.Tests;

public sealed class DomainRuleTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);
    private static readonly LockoutPolicy Policy = new(5, TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(15));

    [Fact]
    public void Given_four_failures_in_the_window_Then_the_account_is_not_locked_and_the_fifth_locks_it_for_15_minutes()
    {
        var state = new LockoutState(0, null, null);
        for (var i = 0; i < 4; i++)
        {
            state = Policy.AfterFailure(state, Start.AddMinutes(i));
        }

        Assert.False(LockoutPolicy.IsLocked(state, Start.AddMinutes(4)));
        state = Policy.AfterFailure(state, Start.AddMinutes(4));
        Assert.True(LockoutPolicy.IsLocked(state, Start.AddMinutes(4)));
        Assert.True(LockoutPolicy.IsLocked(state, Start.AddMinutes(19).AddTicks(-1)));
        Assert.False(LockoutPolicy.IsLocked(state, Start.AddMinutes(19)));
    }

    [Fact]
    public void Given_failures_spread_over_more_than_the_window_Then_the_count_starts_again()
    {
        var state = new LockoutState(0, null, null);
        for (var i = 0; i < 4; i++)
        {
            state = Policy.AfterFailure(state, Start.AddMinutes(i));
        }

        state = Policy.AfterFailure(state, Start.AddMinutes(15));

        Assert.False(LockoutPolicy.IsLocked(state, Start.AddMinutes(15)));
        Assert.Equal(1, state.Failures);
    }

    [Theory]
    [InlineData(11, true)]
    [InlineData(12, false)]
    [InlineData(128, false)]
    [InlineData(129, true)]
    public void Given_a_password_length_Then_only_12_to_128_characters_pass(int length, bool broken) =>
        Assert.Equal(broken, new PasswordMustBeStrongRule(new string('x', length), "maria@farm.example").IsBroken());

    [Theory]
    [InlineData("maria.lopez@farm.example", "xxMARIA.LOPEZxxxxxx", true)]
    [InlineData("maria.lopez@farm.example", "a-perfectly-good-passphrase", false)]
    [InlineData("al@farm.example", "alphabet-soup-every-day", false)]
    public void Given_a_password_and_an_email_Then_containing_the_local_part_is_refused(string email, string password, bool broken) =>
        Assert.Equal(broken, new PasswordMustBeStrongRule(password, email).IsBroken());

    [Theory]
    [InlineData("owner", "admin", 1, true)]
    [InlineData("owner", null, 1, true)]
    [InlineData("owner", "owner", 1, false)]
    [InlineData("owner", "admin", 2, false)]
    [InlineData("admin", "viewer", 1, false)]
    public void Given_a_change_to_a_member_Then_the_last_owner_cannot_go(string current, string? next, int owners, bool broken) =>
        Assert.Equal(broken, new OrganisationKeepsAnOwnerRule(MemberRoles.Parse(current), next is null ? null : MemberRoles.Parse(next), owners).IsBroken());

    [Theory]
    [InlineData("admin", "owner", true)]
    [InlineData("admin", "admin", false)]
    [InlineData("owner", "owner", false)]
    [InlineData("operator", "viewer", false)]
    public void Given_an_actor_and_a_role_Then_nobody_grants_or_touches_a_role_above_their_own(string actor, string target, bool broken) =>
        Assert.Equal(broken, new CannotActAboveOwnRoleRule(MemberRoles.Parse(actor), MemberRoles.Parse(target)).IsBroken());
}
