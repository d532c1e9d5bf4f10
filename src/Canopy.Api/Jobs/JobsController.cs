using System.Globalization;
using Canopy.Contracts;
using Canopy.Platform.Data;
using Canopy.Platform.Messaging;
using Canopy.Platform.Problems;
using Canopy.Platform.Security;
using Canopy.Platform.Tenancy;
using Microsoft.AspNetCore.Mvc;

namespace Canopy.Api.Jobs;

/// <summary>Background jobs and dead letters (the Jobs tag): translate, call the kernel, translate.</summary>
/// <remarks>Public because MVC discovers only public controllers. Roles come from x-roles.</remarks>
public sealed class JobsController(
    MessagingOperations operations,
    PlatformOperators platformOperators,
    ITenantContext tenant,
    CursorCodec cursors) : JobsControllerBase
{
    public override async Task<ActionResult<Job>> GetJob(Guid job_id, CancellationToken cancellationToken = default)
    {
        var job = await operations.GetJobAsync(Scope().TenantId, job_id, cancellationToken).ConfigureAwait(false)
            ?? throw new ProblemException(ProblemTypes.NotFound, "No job with this id exists in your organisation.");
        return new Job
        {
            Id = job.Id,
            Queue = job.Queue,
            Type = job.Type,
            Status = Enum.Parse<JobStatus>(job.Status),
            Progress = job.Progress,
            Attempts = job.Attempts,
            Max_attempts = job.MaxAttempts,
            Cancel_requested = job.CancelRequested,
            Run_at = job.RunAt,
            Created_at = job.CreatedAt,
            Updated_at = job.UpdatedAt,
            Finished_at = job.FinishedAt,
        };
    }

    public override async Task<ActionResult<DeadLetterPage>> ListDeadLetters(
        string? cursor = null, int? limit = 50, DeadLetterStatus? status = null, CancellationToken cancellationToken = default)
    {
        var scope = Scope();
        var filters = CursorCodec.HashFilters(("status", status?.ToString()), ("platform", scope.PlatformOperator ? "yes" : "no"));
        Guid? before = cursor is null ? null : Guid.Parse(cursors.Decode(cursor, filters).After[0], CultureInfo.InvariantCulture);
        var size = limit ?? 50;
        var letters = await operations.ListDeadLettersAsync(scope, status?.ToString(), before, size + 1, cancellationToken).ConfigureAwait(false);
        var page = letters.Take(size).ToList();
        return new DeadLetterPage
        {
            Data = page.Select(ToContract).ToList(),
            Has_more = letters.Count > size,
            Next_cursor = letters.Count > size ? cursors.Encode(new CursorPosition([page[^1].Id.ToString()]), filters) : null,
        };
    }

    public override async Task<ActionResult<DeadLetter>> ReplayDeadLetter(Guid dead_letter_id, string idempotency_Key, CancellationToken cancellationToken = default) =>
        Answer(await operations.ReplayAsync(Scope(), dead_letter_id, cancellationToken).ConfigureAwait(false), "replayed");

    public override async Task<ActionResult<DeadLetter>> QuarantineDeadLetter(Guid dead_letter_id, string? idempotency_Key = null, CancellationToken cancellationToken = default) =>
        Answer(await operations.QuarantineAsync(Scope(), dead_letter_id, cancellationToken).ConfigureAwait(false), "quarantined");

    private static DeadLetter Answer(TriageResult result, string verb)
    {
        switch (result.Outcome)
        {
            case TriageOutcome.Done:
                return ToContract(result.Letter!);
            case TriageOutcome.NotFound:
                throw new ProblemException(ProblemTypes.NotFound, "No dead letter with this id is visible to you.");
            case TriageOutcome.RateLimited:
                throw new ProblemException(ProblemTypes.QuotaExceeded, $"At most {DeadLetters.ReplaysPerMinute} dead letters are replayed a minute across the platform; that budget is spent.")
                {
                    Extensions = { ["violated_policies"] = new[] { "dead-letter-replays" } },
                    Headers =
                    {
                        ["Retry-After"] = result.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture),
                        ["Cache-Control"] = "no-store",
                        ["RateLimit-Policy"] = $"\"dead-letter-replays\";q={DeadLetters.ReplaysPerMinute};w=60",
                        ["RateLimit"] = $"\"dead-letter-replays\";r=0;t={result.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture)}",
                    },
                };
            default:
                throw new ProblemException(ProblemTypes.Conflict, $"A {result.Letter?.Status ?? "changed"} dead letter cannot be {verb}.")
                {
                    Extensions = { ["current_state"] = result.Letter?.Status },
                };
        }
    }

    private OperatorScope Scope() =>
        tenant is { TenantId: { } tenantId, ActorId: { } actorId }
            ? new OperatorScope(tenantId, actorId, platformOperators.Includes(User))
            : throw new ProblemException(ProblemTypes.Unauthenticated, "The access token does not name an organisation.");

    private static DeadLetter ToContract(DeadLetterView letter) => new()
    {
        Id = letter.Id,
        Source = letter.Source == "job" ? DeadLetterSource.Job : DeadLetterSource.Event,
        Source_id = letter.SourceId,
        Queue = letter.Queue,
        Type = letter.Type,
        Owner = letter.Owner,
        Triage = letter.Triage switch
        {
            "poison" => DeadLetterTriage.Poison,
            "downstream_outage" => DeadLetterTriage.Downstream_outage,
            _ => DeadLetterTriage.Transient,
        },
        Status = Enum.Parse<DeadLetterStatus>(letter.Status),
        Replays = letter.Replays,
        Attempts = letter.Attempts,
        Last_error = letter.LastError,
        Platform_wide = letter.PlatformWide,
        Next_replay_at = letter.NextReplayAt,
        Created_at = letter.CreatedAt,
        Updated_at = letter.UpdatedAt,
    };
}
