using System.Net;
using Canopy.Identity.Domain;
using Canopy.Platform.Messaging;

namespace Canopy.Identity.Audit;

/// <summary>
/// A device credential refused by Telemetry (telemetry.device_token_refused) goes to the security
/// log of the device's organisation (or the log of no organisation for an unknown device), with
/// the reason the caller was never told.
/// </summary>
internal sealed class DeviceTokenRefusals(SecurityLog log) : IEventSubscriber
{
    public const string TokenRefused = "telemetry.device_token_refused";

    public string Name => "identity.device-token-refusals";

    public string Owner => "identity";

    public IReadOnlyCollection<string> EventTypes { get; } = [TokenRefused];

    public async Task HandleAsync(OutboxEvent message, MessageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(context);
        if (!message.Payload.TryGetProperty("device_id", out var device) || !device.TryGetGuid(out var deviceId)
            || !message.Payload.TryGetProperty("reason", out var reason) || reason.GetString() is not { Length: > 0 } why)
        {
            throw new PoisonMessageException("telemetry.device_token_refused needs a device_id and a reason.");
        }

        var address = message.Payload.TryGetProperty("ip", out var ip) && IPAddress.TryParse(ip.GetString(), out var parsed) ? parsed : null;
        await log.AppendAsync(context.Connection, context.Transaction, message.TenantId, SecurityEventKinds.DeviceTokenRefused,
            null, deviceId, address, cancellationToken, new { reason = why }).ConfigureAwait(false);
    }
}
