using Canopy.Platform.Problems;
using Microsoft.AspNetCore.Http;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Platform.Idempotency;

/// <summary>The idempotency key of the current request, once the filter has let it through.</summary>
public sealed record IdempotencyFeature(byte[] Scope, byte[] Fingerprint, string OperationId)
{
    /// <summary>Whether a feature claimed the key in the transaction of its effect.</summary>
    public bool Claimed { get; set; }
}

/// <summary>
/// The guard's own refusal (the key is in flight, or was used for another request): an answer
/// about the key, never the key's answer, so it is not kept for replay.
/// </summary>
public sealed class IdempotencyConflictException : ProblemException
{
    public IdempotencyConflictException(ProblemType type, string detail)
        : base(type, detail)
    {
    }

    public IdempotencyConflictException()
    {
    }

    public IdempotencyConflictException(string message)
        : base(message)
    {
    }

    public IdempotencyConflictException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The key already took effect (Redis had forgotten it): answer with the stored response.</summary>
public sealed class IdempotentReplayException(StoredResponse response) : Exception("The Idempotency-Key already took effect; its stored answer is replayed.")
{
    public StoredResponse Response { get; } = response;
}

/// <summary>
/// Claims the request's idempotency key in the caller's transaction, beside the effect: if the
/// same key already took effect (Redis had forgotten it, or two requests raced past Redis), the
/// unique row refuses the second claim and its transaction rolls back. Without a key, nothing.
/// </summary>
public sealed class IdempotencyClaims(IHttpContextAccessor http, NpgsqlDataSource dataSource)
{
    /// <summary>
    /// A change: a transaction bound to the tenant, with the request's idempotency key claimed
    /// first, so a key that already took effect stops here, before any effect or integrity check.
    /// </summary>
    public async Task<Postgres.PostgresTransaction> BeginChangeAsync(NpgsqlDataSource primary, Guid tenantId, CancellationToken cancellationToken)
    {
        var tx = await Postgres.PostgresTransaction.BeginAsync(primary, tenantId, cancellationToken).ConfigureAwait(false);
        try
        {
            await ClaimAsync(tx.Connection, tx.Transaction, cancellationToken).ConfigureAwait(false);
            return tx;
        }
        catch
        {
            await tx.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

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
        if (await claim.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1)
        {
            key.Claimed = true;
            return;
        }

        // The key is live in PostgreSQL although Redis let the request through (flushed, or down):
        // the effect happened once already. This transaction's effect is rolled back by the throw.
        // Read in platform scope: the row may belong to the tenant of the first request (a sign-up's).
        var (platform, platformTransaction) = await Messaging.Scope.BeginPlatformAsync(dataSource, cancellationToken).ConfigureAwait(false);
        (byte[] Fingerprint, StoredResponse? Response)? existing;
        await using (platform)
        await using (platformTransaction)
        {
            existing = await IdempotencyStore.ReadAsync(platform, platformTransaction, key.Scope, cancellationToken).ConfigureAwait(false);
        }

        throw existing switch
        {
            { } row when !row.Fingerprint.AsSpan().SequenceEqual(key.Fingerprint) => new IdempotencyConflictException(ProblemTypes.IdempotencyKeyReused,
                "This Idempotency-Key was already used for a request with a different method, path or body."),
            { Response: { } stored } => new IdempotentReplayException(stored),
            _ => InFlight(),
        };
    }

    public static IdempotencyConflictException InFlight() =>
        new(ProblemTypes.IdempotencyKeyInFlight, "A request with this Idempotency-Key has already been applied or is still running; send it again in a moment to get its answer.")
        {
            Headers = { ["Retry-After"] = "1" },
        };
}
