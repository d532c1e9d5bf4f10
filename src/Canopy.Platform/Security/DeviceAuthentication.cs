namespace Canopy.Platform.Security;

/// <summary>
/// Device tokens: their own authentication scheme, asked for only by operations whose
/// <c>x-roles</c> is <c>device</c>. A member's token never opens those, and a device token never
/// opens anything else (the default scheme refuses it).
/// </summary>
public static class DeviceAuthentication
{
    public const string Scheme = "Device";

    /// <summary>The <c>x-roles</c> value of operations a device calls with its token.</summary>
    public const string Role = "device";

    /// <summary>The scheme an operation authenticates its caller with (null: the default one).</summary>
    public static string? SchemeFor(string? roles) => roles == Role ? Scheme : null;
}
