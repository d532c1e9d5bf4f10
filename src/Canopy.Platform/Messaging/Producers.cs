using System.Data.Common;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NpgsqlTypes;

namespace Canopy.Platform.Messaging;

/// <summary>A job to run later or in the background.</summary>
public sealed record JobRequest(
    string Queue,
    string Type,
    object Payload,
    Guid? TenantId = null,
    string? IdempotencyKey = null,
    int Priority = 0,
    DateTimeOffset? RunAt = null);

/// <summary>
/// Writes events and jobs in the caller's transaction: the change, its events and its jobs
/// commit or roll back together (no save-then-publish). The registry is looked up when a job is
/// enqueued, not when the writer is made: event subscribers that write events of their own
/// depend on this writer, and the registry depends on them.
/// </summary>
public sealed class MessageWriter(IServiceProvider services, TimeProvider time)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<Guid> AppendEventAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string type, int version, object payload,
        Guid? tenantId, Guid? aggregateId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var id = Guid.CreateVersion7(time.GetUtcNow());
        await using var command = new NpgsqlCommand("""
            INSERT INTO platform.outbox (id, type, version, tenant_id, aggregate_id, payload, occurred_at, trace_parent)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = type });
        command.Parameters.Add(new NpgsqlParameter { Value = version });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)tenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)aggregateId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(payload, Json), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)Activity.Current?.Id ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return id;
    }

    /// <summary>Appends an event in the DbContext's current transaction (one is required).</summary>
    public Task<Guid> AppendEventAsync(DbContext db, string type, int version, object payload, Guid? tenantId, Guid? aggregateId, CancellationToken cancellationToken)
    {
        var (connection, transaction) = Current(db);
        return AppendEventAsync(connection, transaction, type, version, payload, tenantId, aggregateId, cancellationToken);
    }

    /// <summary>Enqueues a job; with an idempotency key, a second enqueue returns the first job's id.</summary>
    public async Task<Guid> EnqueueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, JobRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var queue = services.GetRequiredService<MessagingRegistry>().Queue(request.Queue);
        var now = time.GetUtcNow();
        var id = Guid.CreateVersion7(now);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO platform.jobs (id, queue, type, tenant_id, payload, idempotency_key, priority, run_at, max_attempts, trace_parent, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
            ON CONFLICT DO NOTHING
            RETURNING id
            """, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = id });
            insert.Parameters.Add(new NpgsqlParameter { Value = queue.Name });
            insert.Parameters.Add(new NpgsqlParameter { Value = request.Type });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)request.TenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
            insert.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(request.Payload, Json), NpgsqlDbType = NpgsqlDbType.Jsonb });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)request.IdempotencyKey ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = request.Priority });
            insert.Parameters.Add(new NpgsqlParameter { Value = (request.RunAt ?? now).ToUniversalTime() });
            insert.Parameters.Add(new NpgsqlParameter { Value = queue.MaxAttempts });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)Activity.Current?.Id ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = now });
            if (await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is Guid inserted)
            {
                return inserted;
            }
        }

        // The key is taken: a new statement sees the job that holds it (committed by now, since
        // the insert waited for its transaction).
        await using var existing = new NpgsqlCommand("""
            SELECT id FROM platform.jobs
             WHERE queue = $1 AND idempotency_key = $2 AND tenant_id IS NOT DISTINCT FROM $3
            """, connection, transaction);
        existing.Parameters.Add(new NpgsqlParameter { Value = queue.Name });
        existing.Parameters.Add(new NpgsqlParameter { Value = (object?)request.IdempotencyKey ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        existing.Parameters.Add(new NpgsqlParameter { Value = (object?)request.TenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        return await existing.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as Guid?
            ?? throw new InvalidOperationException($"Job {id} was neither inserted nor found by its idempotency key.");
    }

    public Task<Guid> EnqueueAsync(DbContext db, JobRequest request, CancellationToken cancellationToken)
    {
        var (connection, transaction) = Current(db);
        return EnqueueAsync(connection, transaction, request, cancellationToken);
    }

    private static (NpgsqlConnection, NpgsqlTransaction) Current(DbContext db)
    {
        ArgumentNullException.ThrowIfNull(db);
        DbTransaction? transaction = db.Database.CurrentTransaction?.GetDbTransaction();
        return transaction is NpgsqlTransaction npgsql && db.Database.GetDbConnection() is NpgsqlConnection connection
            ? (connection, npgsql)
            : throw new InvalidOperationException("Events and jobs are written in the transaction of the change: begin one first.");
    }
}
