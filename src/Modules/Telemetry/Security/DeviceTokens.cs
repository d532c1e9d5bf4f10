using System.Security.Claims;
using Canopy.Platform.Security;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Canopy.Telemetry.Security;

/// <summary>The device tokens' ES256 keys (<c>Telemetry__DeviceSigningKeys__*</c>), apart from the members' keys.</summary>
internal sealed class DeviceSigningKeys(IOptions<TelemetryOptions> options) : Es256KeyRing(
    TelemetryOptions.Section, typeof(TelemetryOptions), "Telemetry__DeviceSigningKeys", "Telemetry__ActiveDeviceSigningKey",
    options.Value.DeviceSigningKeys, options.Value.ActiveDeviceSigningKey);

/// <summary>The device a device token speaks for.</summary>
internal sealed record DeviceCaller(Guid DeviceId, Guid TenantId);

/// <summary>
/// Issues device tokens and states exactly what a valid one is: ES256 only, <c>typ</c>
/// device+jwt, the device audience, at most 15 minutes. A member's access token (at+jwt, the
/// API audience, other keys) never passes, and a device token never passes the members' check.
/// </summary>
internal sealed class DeviceTokens(DeviceSigningKeys keys, IOptions<TelemetryOptions> options, TimeProvider time)
{
    public const string Scheme = DeviceAuthentication.Scheme;
    public const string TokenType = "device+jwt";
    public const string TenantClaim = "tid";
    public const string DeviceClaim = "device";

    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public TimeSpan Lifetime => TimeSpan.FromMinutes(options.Value.DeviceTokenMinutes);

    public string Issue(DeviceCaller device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return Es256Tokens.Issue(_handler, keys, time, options.Value.DeviceTokenIssuer, options.Value.DeviceTokenAudience, TokenType, Lifetime, new Dictionary<string, object>
        {
            [JwtRegisteredClaimNames.Sub] = device.DeviceId.ToString(),
            [TenantClaim] = device.TenantId.ToString(),
            [DeviceClaim] = device.DeviceId.ToString(),
        });
    }

    public TokenValidationParameters ValidationParameters() =>
        Es256Tokens.ValidationParameters(keys, time, options.Value.DeviceTokenIssuer, options.Value.DeviceTokenAudience, TokenType);

    public static DeviceCaller? CallerOf(ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return Guid.TryParse(principal.FindFirstValue(DeviceClaim), out var device)
            && Guid.TryParse(principal.FindFirstValue(TenantClaim), out var tenant)
            ? new DeviceCaller(device, tenant)
            : null;
    }
}
