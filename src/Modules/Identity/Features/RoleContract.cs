using Canopy.Identity.Domain;

namespace Canopy.Identity.Features;

/// <summary>Roles between the domain and the generated contract (the domain does not know the contract).</summary>
internal static class RoleContract
{
    public static MemberRole FromContract(Contracts.Role role) => role switch
    {
        Contracts.Role.Owner => MemberRole.Owner,
        Contracts.Role.Admin => MemberRole.Admin,
        Contracts.Role.Operator => MemberRole.Operator,
        Contracts.Role.Viewer => MemberRole.Viewer,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };

    public static Contracts.Role ToContract(this MemberRole role) => role switch
    {
        MemberRole.Owner => Contracts.Role.Owner,
        MemberRole.Admin => Contracts.Role.Admin,
        MemberRole.Operator => Contracts.Role.Operator,
        MemberRole.Viewer => Contracts.Role.Viewer,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };
}
