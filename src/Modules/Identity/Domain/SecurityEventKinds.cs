namespace Canopy.Identity.Domain;

/// <summary>What the security log records (the spec's SecurityEventKind).</summary>
internal static class SecurityEventKinds
{
    public const string SignedUp = "signed_up";
    public const string LoginSucceeded = "login_succeeded";
    public const string LoginFailed = "login_failed";
    public const string LockedOut = "locked_out";
    public const string RefreshReused = "refresh_reused";
    public const string LoggedOut = "logged_out";
    public const string InvitationCreated = "invitation_created";
    public const string InvitationAccepted = "invitation_accepted";
    public const string RoleChanged = "role_changed";
    public const string MemberRemoved = "member_removed";
    public const string Erased = "erased";
    public const string DeviceTokenRefused = "device_token_refused";
}
