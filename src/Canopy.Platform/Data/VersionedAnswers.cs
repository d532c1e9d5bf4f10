using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Canopy.Platform.Data;

/// <summary>Answers about one versioned resource, with its <c>ETag</c> derived from the version.</summary>
public static class VersionedAnswers
{
    /// <summary>The resource, tagged with its version.</summary>
    public static T Versioned<T>(this ControllerBase controller, int version, T body)
    {
        ArgumentNullException.ThrowIfNull(controller);
        controller.Response.Headers.ETag = EntityTag.FromVersion(version);
        return body;
    }

    /// <summary>A new resource: 201 with its <c>Location</c> and version tag.</summary>
    public static CreatedResult CreatedVersioned<T>(this ControllerBase controller, string location, int version, T body)
    {
        ArgumentNullException.ThrowIfNull(controller);
        controller.Response.Headers.ETag = EntityTag.FromVersion(version);
        return controller.Created(new Uri(location, UriKind.Relative), body);
    }

    /// <summary>A single-resource read: its version tag, or 304 when the caller already holds this version.</summary>
    public static ActionResult<T> ReadVersioned<T>(this ControllerBase controller, string? ifNoneMatch, int version, Func<T> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return controller.ReadTagged(ifNoneMatch, EntityTag.FromVersion(version), body);
    }

    /// <summary>A read tagged with <paramref name="tag"/> (a version's, or a page's content tag), or 304 when the caller already holds it.</summary>
    public static ActionResult<T> ReadTagged<T>(this ControllerBase controller, string? ifNoneMatch, string tag, Func<T> body)
    {
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(body);
        controller.Response.Headers.ETag = tag;
        return EntityTag.NoneMatch(ifNoneMatch, tag) ? controller.StatusCode(StatusCodes.Status304NotModified) : body();
    }
}
