namespace Canopy.Identity.Domain;

/// <summary>A business rule: broken or not, and what to tell the caller when it is.</summary>
internal interface IBusinessRule
{
    bool IsBroken();

    string Message { get; }
}

/// <summary>12 to 128 characters, and not containing the e-mail's local part.</summary>
internal sealed class PasswordMustBeStrongRule(string password, string email) : IBusinessRule
{
    public const int MinLength = 12;
    public const int MaxLength = 128;

    public bool IsBroken() => Message.Length > 0;

    public string Message
    {
        get
        {
            if (password.Length < MinLength || password.Length > MaxLength)
            {
                return $"The password must have {MinLength} to {MaxLength} characters.";
            }

            var local = email.Split('@', 2)[0].Trim();
            return local.Length >= 3 && password.Contains(local, StringComparison.OrdinalIgnoreCase)
                ? "The password must not contain the first part of your e-mail address."
                : "";
        }
    }
}

/// <summary>An organisation keeps at least one owner: the last one cannot leave, be removed or be demoted.</summary>
internal sealed class OrganisationKeepsAnOwnerRule(MemberRole currentRole, MemberRole? newRole, int owners) : IBusinessRule
{
    public bool IsBroken() => currentRole == MemberRole.Owner && newRole != MemberRole.Owner && owners <= 1;

    public string Message => "This is the organisation's last owner; make another member owner first.";
}

/// <summary>Only a member who holds a role can grant it, or act on a member who holds it.</summary>
internal sealed class CannotActAboveOwnRoleRule(MemberRole actor, MemberRole target) : IBusinessRule
{
    public bool IsBroken() => !actor.Includes(target);

    public string Message => $"A member with the {actor.Name()} role cannot grant or act on the {target.Name()} role.";
}

/// <summary>
/// Account lockout: the failure that reaches <c>MaxFailures</c> within the window locks the account
/// for <c>LockFor</c>; failures outside the window start a new count.
/// </summary>
internal sealed record LockoutPolicy(int MaxFailures, TimeSpan Window, TimeSpan LockFor)
{
    public LockoutState AfterFailure(LockoutState state, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(state);
        var inWindow = state.FirstFailureAt is { } first && now - first < Window;
        var failures = inWindow ? state.Failures + 1 : 1;
        var firstFailure = inWindow ? state.FirstFailureAt : now;
        return failures >= MaxFailures
            ? new LockoutState(0, null, now + LockFor)
            : new LockoutState(failures, firstFailure, state.LockedUntil);
    }

    public static bool IsLocked(LockoutState state, DateTimeOffset now) => state?.LockedUntil is { } until && now < until;
}

internal sealed record LockoutState(int Failures, DateTimeOffset? FirstFailureAt, DateTimeOffset? LockedUntil);
