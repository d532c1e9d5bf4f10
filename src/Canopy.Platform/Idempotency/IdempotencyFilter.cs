using Canopy.Platform.Problems;
using Canopy.Platform.Spec;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Canopy.Platform.Idempotency;

/// <summary>
/// Idempotency-Key for operations with <c>x-idempotency</c> (API-RULES.md): a key is scoped by
/// tenant, principal, operation and the key itself; the first request runs, a retry with the
/// same method, path and body gets the stored answer byte for byte with
/// <c>Idempotent-Replayed: true</c>, a different request under the same key gets 422, and one
/// that arrives while the first is running gets 409 with <c>Retry-After: 1</c>. 2XX and 4XX
/// answers are kept for 24 hours; 5XX are not (the client may retry).
/// </summary>
public sealed partial class IdempotencyFilter(
    OperationCatalog catalog, IdempotencyStore store, IEnumerable<IExceptionHandler> exceptionHandlers, ILogger<IdempotencyFilter> logger) : IAsyncResourceFilter
{
    public const string Extension = "x-idempotency";
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";

    // Headers a replay must carry besides the body: its media type, where the resource is and
    // its version, how it may be cached, and what a refusal told the client.
    private static readonly string[] KeptHeaders = ["Content-Type", "Location", "ETag", "Cache-Control", "WWW-Authenticate", "Allow"];

    public async Task OnResourceExecutionAsync(ResourceExecutingContext context, ResourceExecutionDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var operation = catalog.For(context.ActionDescriptor);
        var operationId = operation?.OperationId;
        var mode = operation?.Extensions.GetValueOrDefault(Extension);
        var http = context.HttpContext;
        var raw = http.Request.Headers[Header].ToString();
        if (mode is not ("required" or "optional") || (raw.Length == 0 && mode == "optional"))
        {
            await next().ConfigureAwait(false);
            return;
        }

        if (IdempotencyKey.Parse(raw) is not { } key)
        {
            context.Result = BadKey(http, raw.Length == 0
                ? "This operation needs an Idempotency-Key header (a UUID is a good choice)."
                : $"The Idempotency-Key must be 1 to {IdempotencyKey.MaxLength} visible ASCII characters, bare or as a quoted string.");
            return;
        }

        http.Request.EnableBuffering();
        using var requestBody = new MemoryStream();
        await http.Request.Body.CopyToAsync(requestBody, http.RequestAborted).ConfigureAwait(false);
        http.Request.Body.Position = 0;

        var tenant = http.User.FindFirst("tid")?.Value;
        var principal = http.User.FindFirst("sub")?.Value ?? "anonymous@" + (http.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        var scope = IdempotencyKey.Scope(tenant, principal, operationId!, key);
        var fingerprint = IdempotencyKey.Fingerprint(http.Request.Method, http.Request.Path + http.Request.QueryString, requestBody.ToArray());

        var begin = await store.BeginAsync(scope, fingerprint, http.RequestAborted).ConfigureAwait(false);
        switch (begin.Outcome)
        {
            case BeginOutcome.Reused:
                context.Result = ProblemFactory.Result(http, ProblemTypes.IdempotencyKeyReused,
                    "This Idempotency-Key was already used for a request with a different method, path or body.");
                return;
            case BeginOutcome.InFlight:
                http.Response.Headers.RetryAfter = "1";
                context.Result = ProblemFactory.Result(http, ProblemTypes.IdempotencyKeyInFlight,
                    "A request with this Idempotency-Key is still running; send it again in a moment to get its answer.");
                return;
            case BeginOutcome.Replay:
                context.Result = new ReplayResult(begin.Response!);
                return;
        }

        var feature = new IdempotencyFeature(scope, fingerprint, operationId!);
        http.Features.Set(feature);
        var original = http.Response.Body;
        using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        var kept = false;
        var send = false;
        try
        {
            var executed = await next().ConfigureAwait(false);
            if (executed.Exception is IdempotentReplayException replay && !executed.ExceptionHandled)
            {
                // The key had taken effect before (Redis forgot it): its kept answer, as a replay.
                await new ReplayResult(replay.Response).ExecuteResultAsync(executed).ConfigureAwait(false);
                executed.ExceptionHandled = true;
                kept = await KeepAsync(scope, fingerprint, operationId!, tenant, replay.Response, inPostgres: false).ConfigureAwait(false);
            }
            else if (executed.Exception is ProblemException { Type.Status: < 500 } problem && !executed.ExceptionHandled)
            {
                // A refusal is an answer too: written here, so it can be kept and replayed.
                foreach (var handler in exceptionHandlers)
                {
                    if (await handler.TryHandleAsync(http, problem, http.RequestAborted).ConfigureAwait(false))
                    {
                        break;
                    }
                }

                executed.ExceptionHandled = true;
                // The guard's own refusals (in flight, reused) are about the key, not its answer.
                if (problem is not IdempotencyConflictException)
                {
                    kept = await KeepAnswerAsync(http, scope, fingerprint, operationId!, tenant, buffer, feature).ConfigureAwait(false);
                }
            }
            else if (executed.Exception is null || executed.ExceptionHandled)
            {
                kept = await KeepAnswerAsync(http, scope, fingerprint, operationId!, tenant, buffer, feature).ConfigureAwait(false);
            }

            send = executed.Exception is null || executed.ExceptionHandled;
        }
        finally
        {
            http.Response.Body = original;
            if (!kept && begin.Locked)
            {
                await store.ReleaseAsync(scope, fingerprint).ConfigureAwait(false);
            }
        }

        // An unhandled exception goes to the exception handler whole: no half-written answer leaves.
        if (send)
        {
            buffer.Position = 0;
            await buffer.CopyToAsync(original, http.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Keeps a final answer: 2XX and 4XX, except 429 (the client should retry after its wait, not
    /// be told "too many" for a day). In PostgreSQL only when the effect committed with the claim.
    /// </summary>
    private Task<bool> KeepAnswerAsync(HttpContext http, byte[] scope, byte[] fingerprint, string operationId, string? tenant, MemoryStream buffer, IdempotencyFeature feature)
    {
        var status = http.Response.StatusCode;
        if (status >= 500 || status == StatusCodes.Status429TooManyRequests)
        {
            return Task.FromResult(false);
        }

        var headers = KeptHeaders
            .Where(h => http.Response.Headers.ContainsKey(h))
            .ToDictionary(h => h, h => http.Response.Headers[h].ToString(), StringComparer.OrdinalIgnoreCase);
        return KeepAsync(scope, fingerprint, operationId, tenant, new StoredResponse(status, headers, buffer.ToArray()), inPostgres: feature.Claimed && status < 400);
    }

    /// <summary>A failure to keep the answer must not turn an applied change into a 500: it is logged, and the answer sent.</summary>
    private async Task<bool> KeepAsync(byte[] scope, byte[] fingerprint, string operationId, string? tenant, StoredResponse response, bool inPostgres)
    {
        try
        {
            await store.CompleteAsync(scope, fingerprint, operationId, tenant, response, inPostgres, CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException || Redis.RedisUnavailableException.Is(ex))
        {
            LogNotKept(logger, operationId, ex);
            return true;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The answer of {OperationId} could not be kept for idempotent replay; it was sent all the same")]
    private static partial void LogNotKept(ILogger logger, string operationId, Exception exception);

    private static ObjectResult BadKey(HttpContext http, string detail)
    {
        var problem = ProblemFactory.Create(http, ProblemTypes.MalformedRequest, detail, [new FieldError(detail, Parameter: Header, In: "header")]);
        return new ObjectResult(problem) { StatusCode = StatusCodes.Status400BadRequest, ContentTypes = { ProblemFactory.MediaType } };
    }

    /// <summary>The stored answer, as it was, marked as a replay.</summary>
    private sealed class ReplayResult(StoredResponse response) : IActionResult
    {
        public async Task ExecuteResultAsync(ActionContext context)
        {
            var http = context.HttpContext;
            http.Response.StatusCode = response.Status;
            foreach (var (name, value) in response.Headers)
            {
                http.Response.Headers[name] = value;
            }

            http.Response.Headers[ReplayedHeader] = "true";
            http.Response.ContentLength = response.Body.Length;
            await http.Response.Body.WriteAsync(response.Body, http.RequestAborted).ConfigureAwait(false);
        }
    }
}
