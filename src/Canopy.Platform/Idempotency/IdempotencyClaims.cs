using Canopy.Platform.Problems;
using Microsoft.AspNetCore.Http;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Platform.Idempotency;

/// <summary>The idempotency key of the current request, once the filter has let it through.</summary>
public sealed record IdempotencyFeature(byte[] Scope, byte[] Fingerprint, string OperationId);

/// <summary>
/// Claims the request's idempotency key in the caller's transaction, beside the effect: if the
/// same key already took effect (Redis had forgotten it, or two requests raced past Redis), the
/// unique row refuses the second claim and its transaction rolls back. Without a key, nothing.
/// </summary>
public sealed class IdempotencyClaims(IHttpContextAccessor http)
{
    public async Task ClaimAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        if (http.HttpContext?.Features.Get<IdempotencyFeature>() is not { } key)
        {
            return;
        }

        // A concurrent claim of the same key blocks here until it commits or rolls back; an
        // expired row (older than 24 hours) is taken over.
        await using var claim = new NpgsqlCommand("""
            INSERT INTO platform.idempotency_keys (scope_hash, tenant_id, operation, fingerprint, created_at, expires_at)
            VALUES ($1, NULLIF(current_setting('app.tenant_id', true), '')::uuid, $2, $3, now(), now() + $4)
            ON CONFLICT (scope_hash) DO UPDATE
               SET fingerprint = EXCLUDED.fingerprint, operation = EXCLUDED.operation, status = NULL, headers = NULL, body = NULL,
                   created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
             WHERE idempotency_keys.expires_at <= now()
            """, connection, transaction);
        claim.Parameters.Add(new NpgsqlParameter { Value = key.Scope, NpgsqlDbType = NpgsqlDbType.Bytea });
        claim.Parameters.Add(new NpgsqlParameter { Value = key.OperationId });
        claim.Parameters.Add(new NpgsqlParameter { Value = key.Fingerprint, NpgsqlDbType = NpgsqlDbType.Bytea });
        claim.Parameters.Add(new NpgsqlParameter { Value = IdempotencyStore.Lifetime });
        if (await claim.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
        {
            throw InFlight();
        }
    }

    public static ProblemException InFlight() =>
        new(ProblemTypes.IdempotencyKeyInFlight, "A request with this Idempotency-Key has already been applied or is still running; send it again in a moment to get its answer.")
        {
            Headers = { ["Retry-After"] = "1" },
        };
}
