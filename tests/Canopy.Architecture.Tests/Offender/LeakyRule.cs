namespace Canopy.Architecture.Tests.Offender.Domain;

/// <summary>A domain rule written the wrong way, for the rules' self-test: it reaches into HTTP and into Fleet.</summary>
internal sealed class LeakyRule
{
    public static bool IsBroken(Microsoft.AspNetCore.Http.HttpContext context) =>
        context.Request.Path.Value == typeof(Canopy.Fleet.FleetModule).Name;
}
