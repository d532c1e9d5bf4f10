using Canopy.Platform.Data;
using Canopy.Platform.Idempotency;
using Canopy.Platform.Postgres;
using Canopy.Platform.Problems;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Alerting.Features;

/// <summary>Who acts: the tenant every row is bound to, and the member recorded with the change.</summary>
internal sealed record Actor(Guid TenantId, Guid? UserId);

/// <summary>Transactions of the Alerting module, always bound to the caller's tenant (row-level security).</summary>
internal sealed class AlertingDatabase(PostgresDataSources dataSources, IdempotencyClaims idempotency, CursorCodec cursors)
{
    public PostgresDataSources DataSources { get; } = dataSources;

    /// <summary>A change, on the primary, with the request's idempotency key claimed first.</summary>
    public Task<PostgresTransaction> ChangeAsync(Guid tenantId, CancellationToken cancellationToken) =>
        idempotency.BeginChangeAsync(DataSources.Primary, tenantId, cancellationToken);

    /// <summary>
    /// A page of the tenant's rows of <paramref name="table"/>, newest first (UUIDv7 ids), only
    /// those in <paramref name="status"/> when given; the cursor is bound to the list and the filter.
    /// </summary>
    public async Task<(List<T> Page, string? Next)> NewestFirstAsync<T>(
        Guid tenantId, string table, string columns, Func<NpgsqlDataReader, T> read, Func<T, Guid> id, string? status, string? cursor, int limit, CancellationToken cancellationToken)
    {
        var filters = CursorCodec.HashFilters(("list", table), ("status", status));
        Guid? before = cursor is null ? null : Guid.Parse(cursors.Decode(cursor, filters).After[0]);
        var rows = await PostgresTransaction.ReadAsync(DataSources.Primary, tenantId, $"""
            SELECT {columns} FROM {table}
             WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR id < $2)
             ORDER BY id DESC
             LIMIT $3
            """, read, cancellationToken,
            PostgresTransaction.Nullable(status, NpgsqlDbType.Text), PostgresTransaction.Nullable(before, NpgsqlDbType.Uuid), limit + 1).ConfigureAwait(false);
        return Pages.Cut(rows, limit, last => cursors.Encode(new CursorPosition([id(last).ToString()]), filters));
    }

    /// <summary>One of the tenant's rows of <paramref name="table"/> by id, or 404 naming <paramref name="what"/>.</summary>
    public async Task<T> FindAsync<T>(Guid tenantId, string table, string columns, Func<NpgsqlDataReader, T> read, Guid id, string what, CancellationToken cancellationToken)
    {
        var found = await PostgresTransaction.ReadAsync(DataSources.Primary, tenantId, $"SELECT {columns} FROM {table} WHERE id = $1", read, cancellationToken, id).ConfigureAwait(false);
        return found.Count == 1 ? found[0] : throw NotFound(what);
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
