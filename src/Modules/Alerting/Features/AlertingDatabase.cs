using Canopy.Platform.Idempotency;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;

namespace Canopy.Alerting.Features;

/// <summary>Who acts: the tenant every row is bound to, and the member recorded with the change.</summary>
internal sealed record Actor(Guid TenantId, Guid? UserId);

/// <summary>Transactions of the Alerting module, always bound to the caller's tenant (row-level security).</summary>
internal sealed class AlertingDatabase(PostgresDataSources dataSources, IdempotencyClaims idempotency)
{
    public PostgresDataSources DataSources { get; } = dataSources;

    /// <summary>A change, on the primary, with the request's idempotency key claimed first.</summary>
    public async Task<PostgresTransaction> ChangeAsync(Guid tenantId, CancellationToken cancellationToken)
    {
        var tx = await PostgresTransaction.BeginAsync(DataSources.Primary, tenantId, cancellationToken).ConfigureAwait(false);
        try
        {
            await idempotency.ClaimAsync(tx.Connection, tx.Transaction, cancellationToken).ConfigureAwait(false);
            return tx;
        }
        catch
        {
            await tx.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A refused verb: 409 naming the current state and the verbs it allows.</summary>
    public static ProblemException IllegalVerb(string detail, string state, IEnumerable<string> allowed)
    {
        var problem = new ProblemException(ProblemTypes.Conflict, detail);
        problem.Extensions["current_state"] = state;
        problem.Extensions["allowed_verbs"] = allowed.ToList();
        return problem;
    }

    public static ProblemException NotFound(string what) => new(ProblemTypes.NotFound, $"No {what} with this id exists in your organisation.");
}
