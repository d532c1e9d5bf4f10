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
}
