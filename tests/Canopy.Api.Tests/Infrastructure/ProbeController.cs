using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using Canopy.Platform.Data;
using Canopy.Platform.Problems;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;

namespace Canopy.Api.Tests.Infrastructure;

/// <summary>
/// Test-only endpoints shaped like generated ones (route names are operationIds, DTOs carry the
/// generator's attributes), added to the real application by <see cref="ProbeApplication"/> to
/// drive every kind of failure through the real pipeline.
/// </summary>
[ApiController]
[Route("test-only")]
public sealed class ProbeController(CursorCodec cursors) : ControllerBase
{
    [HttpPost("items", Name = "testCreateItem")]
    public ActionResult<ProbeItemRequest> Create([FromBody] ProbeItemRequest body) => StatusCode(201, body);

    [HttpGet("items", Name = "testListItems")]
    public IActionResult List([FromQuery] int? limit, [FromQuery] string? cursor, [FromQuery] string? name_prefix)
    {
        var filters = CursorCodec.HashFilters(("name_prefix", name_prefix));
        var after = cursor is null ? "start" : cursors.Decode(cursor, filters).After[0];
        return Ok(new { data = Array.Empty<object>(), next_cursor = cursors.Encode(new CursorPosition([after + "+1"]), filters), has_more = true, limit });
    }

    [HttpGet("items/{item_id}", Name = "testGetItem")]
    public IActionResult Get(Guid item_id) => Ok(new { id = item_id });

    [HttpPost("items/{item_id}/rename", Name = "testRenameItem")]
    public IActionResult Rename(Guid item_id, [FromHeader(Name = "If-Match")] string? ifMatch)
    {
        EntityTag.RequireMatch(ifMatch, currentVersion: 3);
        Response.Headers.ETag = EntityTag.FromVersion(4);
        return Ok(new { id = item_id });
    }

    [HttpPost("items/{item_id}/activate", Name = "testActivateItem")]
    public IActionResult Activate(Guid item_id) =>
        throw new ProblemException(ProblemTypes.Conflict, $"Item {item_id} is DECOMMISSIONED and cannot be activated (asked at {Request.Path}).")
        {
            Extensions = { ["current_state"] = "DECOMMISSIONED", ["allowed_verbs"] = Array.Empty<string>() },
        };

    [HttpPost("upload", Name = "testUpload")]
    public IActionResult Upload([FromBody] ProbeUpload body) => Ok(new { size = body.Data.Length });

    [HttpGet("slow", Name = "testSlow")]
    public async Task<IActionResult> Slow(CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromSeconds(10), cancellationToken);
        return Ok();
    }

    /// <summary>Fails with a 500 on the first call of each marker, succeeds afterwards; counts its runs.</summary>
    [HttpPost("flaky", Name = "testFlaky")]
    public IActionResult Flaky([FromBody] ProbeFlaky body)
    {
        var runs = FlakyRuns.AddOrUpdate(body.Marker, 1, (_, n) => n + 1);
        return runs == 1
            ? throw new InvalidOperationException("The first run of this marker fails on purpose.")
            : Ok(new { marker = body.Marker, runs });
    }

    public static System.Collections.Concurrent.ConcurrentDictionary<string, int> FlakyRuns { get; } = new(StringComparer.Ordinal);

    /// <summary>Documents 200 only, and answers 202 without a body (the conformance check must object).</summary>
    [HttpGet("undocumented", Name = "testUndocumented")]
    public IActionResult Undocumented() => Accepted();

    [HttpGet("old", Name = "testOld")]
    public IActionResult Old() => Ok(new { still = "working" });

    [HttpGet("cached", Name = "testCached")]
    public IActionResult Cached([FromQuery] bool fail = false) =>
        fail ? throw new ProblemException(ProblemTypes.Conflict, "Asked to fail.") : Ok(new { fresh = true });

    [HttpGet("preview", Name = "testPreview")]
    public IActionResult Preview() => Ok(new { preview = true });

    [HttpGet("throw", Name = "testThrow")]
    public IActionResult Throw() =>
        throw new InvalidOperationException($"secret-connection-detail: Host=db.internal;Password=hunter2 on {Request.Path}");
}

public sealed record ProbeFlaky
{
    [JsonPropertyName("marker")]
    [Required]
    public required string Marker { get; set; }
}

public enum ProbeKind
{
    [JsonStringEnumMemberName("greenhouse")]
    Greenhouse,

    [JsonStringEnumMemberName("field")]
    Field,
}

public sealed record ProbeItemRequest
{
    [JsonPropertyName("name")]
    [Required(AllowEmptyStrings = true)]
    [StringLength(120, MinimumLength = 1)]
    public required string Name { get; set; }

    [JsonPropertyName("latitude")]
    [Range(-90d, 90d)]
    public required double Latitude { get; set; }

    [JsonPropertyName("kind")]
    [JsonConverter(typeof(JsonStringEnumConverter<ProbeKind>))]
    public required ProbeKind Kind { get; set; }

    [JsonPropertyName("location")]
    public ProbeLocation? Location { get; set; }
}

public sealed record ProbeLocation
{
    [JsonPropertyName("time_zone")]
    public required string TimeZone { get; set; }
}

public sealed record ProbeUpload
{
    [JsonPropertyName("data")]
    public required string Data { get; set; }
}

public sealed class ProbeItemRequestValidator : AbstractValidator<ProbeItemRequest>
{
    public ProbeItemRequestValidator()
    {
        RuleFor(x => x.Name).Must(n => !n.Contains("forbidden", StringComparison.OrdinalIgnoreCase)).WithMessage("The name must not contain 'forbidden'.");
        RuleFor(x => x.Location!.TimeZone).Must(tz => TimeZoneInfo.TryFindSystemTimeZoneById(tz, out _))
            .When(x => x.Location is not null).WithMessage("The time zone must be an IANA name such as Europe/Amsterdam.");
    }
}
