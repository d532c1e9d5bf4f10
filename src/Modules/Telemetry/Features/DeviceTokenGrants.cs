using System.Net;
using System.Security.Cryptography;
using System.Text;
using Canopy.Contracts;
using Canopy.Platform.Messaging;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;
using Canopy.Telemetry.Security;
using Microsoft.Extensions.Logging;

namespace Canopy.Telemetry.Features;

/// <summary>
/// Trades a device id and its credential for a device token. Fleet answers, through its narrow
/// cross-tenant function, which tenant the device is of and whether the secret opens it; every
/// refusal looks the same to the caller and is recorded (telemetry.device_token_refused, which
/// Identity writes to the organisation's security log).
/// </summary>
internal sealed partial class DeviceTokenGrants(
    PostgresDataSources dataSources, DeviceTokens tokens, MessageWriter messages, TelemetryMetrics metrics, ILogger<DeviceTokenGrants> logger)
{
    public const string TokenRefused = "telemetry.device_token_refused";

    public async Task<DeviceTokenResponse> IssueAsync(Guid deviceId, string credential, IPAddress? address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(credential);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(credential));
        await using var tx = await PostgresTransaction.BeginAsync(dataSources.Primary, null, cancellationToken).ConfigureAwait(false);
        await using var check = tx.Command("SELECT tenant_id, outcome FROM fleet.device_credential_check($1, $2)", deviceId, hash);
        var found = await PostgresTransaction.ReadAllAsync(check, r => (Tenant: r.GetGuid(0), Outcome: r.GetString(1)), cancellationToken).ConfigureAwait(false);
        var (tenant, outcome) = found.Count == 1 ? ((Guid?)found[0].Tenant, found[0].Outcome) : (null, "unknown_device");
        if (outcome == "ok")
        {
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            metrics.DeviceToken("issued");
            return new DeviceTokenResponse
            {
                Access_token = tokens.Issue(new DeviceCaller(deviceId, tenant!.Value)),
                Token_type = DeviceTokenResponseToken_type.Bearer,
                Expires_in = (int)tokens.Lifetime.TotalSeconds,
            };
        }

        // The refusal is written for the device's tenant, or for none (unknown device): platform code, after its own check.
        await tx.EnterPlatformScopeAsync(cancellationToken).ConfigureAwait(false);
        await messages.AppendEventAsync(tx.Connection, tx.Transaction, TokenRefused, 1,
            new { device_id = deviceId, reason = outcome, ip = address?.ToString() }, tenant, deviceId, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        metrics.DeviceToken(outcome);
        LogRefused(logger, deviceId, outcome);
        throw Refused();
    }

    /// <summary>The one answer for every refusal: it never tells an unknown device from a wrong secret.</summary>
    public static ProblemException Refused() => new(ProblemTypes.InvalidDeviceCredentials,
        "The device id and credential do not open a device channel.");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Device token refused for device {DeviceId}: {Reason}")]
    private static partial void LogRefused(ILogger logger, Guid deviceId, string reason);
}
