namespace Canopy.Identity.Domain;

/// <summary>A member's role. Each includes the rights of those below it.</summary>
internal enum MemberRole
{
    Viewer = 1,
    Operator = 2,
    Admin = 3,
    Owner = 4,
}

internal static class MemberRoles
{
    public static string Name(this MemberRole role) => role switch
    {
        MemberRole.Owner => "owner",
        MemberRole.Admin => "admin",
        MemberRole.Operator => "operator",
        MemberRole.Viewer => "viewer",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };

    public static bool TryParse(string? name, out MemberRole role)
    {
        role = name switch
        {
            "owner" => MemberRole.Owner,
            "admin" => MemberRole.Admin,
            "operator" => MemberRole.Operator,
            "viewer" => MemberRole.Viewer,
            _ => 0,
        };
        return role != 0;
    }

    public static MemberRole Parse(string name) =>
        TryParse(name, out var role) ? role : throw new FormatException($"Unknown role '{name}'.");

    public static bool Includes(this MemberRole held, MemberRole needed) => held >= needed;

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
