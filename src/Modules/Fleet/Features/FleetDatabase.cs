using Canopy.Platform.Idempotency;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;
using Npgsql;

namespace Canopy.Fleet.Features;

/// <summary>Who acts: the tenant every row is bound to, and the member recorded as <c>created_by</c>.</summary>
internal sealed record Actor(Guid TenantId, Guid? UserId);

/// <summary>Transactions of the Fleet module, always bound to the caller's tenant (row-level security).</summary>
internal sealed class FleetDatabase(PostgresDataSources dataSources, IdempotencyClaims idempotency)
{
    private const string UniqueViolation = "23505";

    /// <summary>A read of several statements, on the primary: a client reads what it has just written (the replica is for reports).</summary>
    public Task<PostgresTransaction> ReadAsync(Guid tenantId, CancellationToken cancellationToken) =>
        PostgresTransaction.BeginAsync(dataSources.Primary, tenantId, cancellationToken);

    /// <summary>One query for the tenant in one round trip, on the primary (see <see cref="PostgresTransaction.ReadAsync{T}"/>).</summary>
    public Task<List<T>> ReadOnceAsync<T>(Guid tenantId, string sql, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken, params object?[] arguments) =>
        PostgresTransaction.ReadAsync(dataSources.Primary, tenantId, sql, read, cancellationToken, arguments);

    /// <summary>
    /// A change: on the primary, with the request's idempotency key claimed first, so a key that
    /// already took effect stops here, before any effect or integrity check.
    /// </summary>
    public Task<PostgresTransaction> ChangeAsync(Guid tenantId, CancellationToken cancellationToken) =>
        idempotency.BeginChangeAsync(dataSources.Primary, tenantId, cancellationToken);

    public static bool IsUniqueViolation(Exception ex, string constraint) =>
        ex is PostgresException { SqlState: UniqueViolation } pg && pg.ConstraintName == constraint;

    public static ProblemException NotFound(string what) => new(ProblemTypes.NotFound, $"No {what} with this id exists in your organisation.");

    public static ProblemException NameTaken(string detail) =>
        new(ProblemTypes.Conflict, detail, [new FieldError("This name is taken.", Pointer: "#/name")]);
}
