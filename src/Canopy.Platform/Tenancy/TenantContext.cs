using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace Canopy.Platform.Tenancy;

/// <summary>
/// Who is acting and for which tenant, for the current unit of work. In a request it comes
/// from the authenticated principal (<c>tid</c> and <c>sub</c> claims); a worker sets it from
/// the job it runs. Never from a header or a body.
/// </summary>
public interface ITenantContext
{
    Guid? TenantId { get; }

    /// <summary>The acting user, or null for the system (workers, migrations).</summary>
    Guid? ActorId { get; }
}

/// <summary>The tenant context of a request, read from its principal.</summary>
public sealed class HttpTenantContext(IHttpContextAccessor http) : ITenantContext
{
    public Guid? TenantId => Claim("tid");

    public Guid? ActorId => Claim("sub");

    private Guid? Claim(string type)
    {
        var principal = http.HttpContext?.User;
        return principal?.Identity?.IsAuthenticated == true && Guid.TryParse(principal.FindFirstValue(type), out var id) ? id : null;
    }
}

/// <summary>A fixed tenant context, for workers and tests that act for one tenant.</summary>
public sealed record FixedTenantContext(Guid? TenantId, Guid? ActorId = null) : ITenantContext;
