using Canopy.Contracts;
using Canopy.Fleet.Features;
using Canopy.Platform.Data;
using Canopy.Platform.Problems;
using Canopy.Platform.Tenancy;
using Microsoft.AspNetCore.Mvc;

namespace Canopy.Fleet;

/// <summary>The module's use cases, handed to its controller (public for MVC, the use cases stay internal).</summary>
public sealed class FleetFeatures
{
    internal FleetFeatures(Farms farms, Zones zones, DeviceModels models, Devices devices)
    {
        Farms = farms;
        Zones = zones;
        Models = models;
        Devices = devices;
    }

    internal Farms Farms { get; }

    internal Zones Zones { get; }

    internal DeviceModels Models { get; }

    internal Devices Devices { get; }
}

/// <summary>The operations of the Fleet tag: translate, call the feature, translate.</summary>
/// <remarks>Who may call what comes from x-roles in the spec, enforced before these methods run.</remarks>
public sealed class FleetController(FleetFeatures features, ITenantContext tenant) : FleetControllerBase
{
    private readonly Farms _farms = features.Farms;
    private readonly Zones _zones = features.Zones;
    private readonly DeviceModels _models = features.Models;
    private readonly Devices _devices = features.Devices;

    public override async Task<ActionResult<Farm>> CreateFarm(string idempotency_Key, CreateFarmRequest body, CancellationToken cancellationToken = default)
    {
        var farm = await _farms.CreateAsync(Actor, body, cancellationToken).ConfigureAwait(false);
        return this.CreatedVersioned($"/api/v1/farms/{farm.Id}", farm.Version, farm.ToContract());
    }

    public override async Task<ActionResult<FarmPage>> ListFarms(string? cursor = null, int? limit = 50, string? name_prefix = null, CancellationToken cancellationToken = default) =>
        await _farms.ListAsync(Tenant, name_prefix, cursor, limit ?? 50, cancellationToken).ConfigureAwait(false);

    public override async Task<ActionResult<Farm>> GetFarm(Guid farm_id, string? if_None_Match = null, CancellationToken cancellationToken = default)
    {
        var farm = await _farms.GetAsync(Tenant, farm_id, cancellationToken).ConfigureAwait(false);
        return this.ReadVersioned(if_None_Match, farm.Version, farm.ToContract);
    }

    public override async Task<ActionResult<Farm>> RenameFarm(Guid farm_id, string if_Match, RenameFarmRequest body, string? idempotency_Key = null, CancellationToken cancellationToken = default)
    {
        var farm = await _farms.RenameAsync(Actor, farm_id, if_Match, body.Name, cancellationToken).ConfigureAwait(false);
        return this.Versioned(farm.Version, farm.ToContract());
    }

    public override async Task<IActionResult> ArchiveFarm(Guid farm_id, string if_Match, string? idempotency_Key = null, CancellationToken cancellationToken = default)
    {
        await _farms.ArchiveAsync(Actor, farm_id, if_Match, cancellationToken).ConfigureAwait(false);
        return NoContent();
    }

    public override async Task<ActionResult<Zone>> CreateZone(Guid farm_id, string idempotency_Key, CreateZoneRequest body, CancellationToken cancellationToken = default)
    {
        var zone = await _zones.CreateAsync(Actor, farm_id, body, cancellationToken).ConfigureAwait(false);
        return this.CreatedVersioned($"/api/v1/zones/{zone.Id}", zone.Version, zone.ToContract());
    }

    public override async Task<ActionResult<ZonePage>> ListZones(Guid farm_id, string? cursor = null, int? limit = 50, CancellationToken cancellationToken = default) =>
        await _zones.ListAsync(Tenant, farm_id, cursor, limit ?? 50, cancellationToken).ConfigureAwait(false);

    public override async Task<ActionResult<Zone>> GetZone(Guid zone_id, string? if_None_Match = null, CancellationToken cancellationToken = default)
    {
        var zone = await _zones.GetAsync(Tenant, zone_id, cancellationToken).ConfigureAwait(false);
        return this.ReadVersioned(if_None_Match, zone.Version, zone.ToContract);
    }

    public override async Task<ActionResult<Zone>> SetZoneTargets(Guid zone_id, string if_Match, SetZoneTargetsRequest body, string? idempotency_Key = null, CancellationToken cancellationToken = default)
    {
        var zone = await _zones.SetTargetsAsync(Actor, zone_id, if_Match, body.Targets, cancellationToken).ConfigureAwait(false);
        return this.Versioned(zone.Version, zone.ToContract());
    }

    public override async Task<IActionResult> ArchiveZone(Guid zone_id, string if_Match, string? idempotency_Key = null, CancellationToken cancellationToken = default)
    {
        await _zones.ArchiveAsync(Actor, zone_id, if_Match, cancellationToken).ConfigureAwait(false);
        return NoContent();
    }

    public override async Task<ActionResult<DeviceModelPage>> ListDeviceModels(string? cursor = null, int? limit = 50, CancellationToken cancellationToken = default) =>
        await _models.ListAsync(Tenant, cursor, limit ?? 50, cancellationToken).ConfigureAwait(false);

    public override async Task<ActionResult<DeviceWithCredential>> RegisterDevice(string idempotency_Key, RegisterDeviceRequest body, CancellationToken cancellationToken = default)
    {
        var (device, credential) = await _devices.RegisterAsync(Actor, body, cancellationToken).ConfigureAwait(false);
        Response.Headers.CacheControl = "no-store";
        return this.CreatedVersioned($"/api/v1/devices/{device.Id}", device.Version, new DeviceWithCredential { Device = device.ToContract(), Credential = credential });
    }

    public override async Task<ActionResult<DevicePage>> ListDevices(
        string? cursor = null, int? limit = 50, DeviceStatus? status = null, Guid? farm_id = null, Guid? zone_id = null, string? model = null, CancellationToken cancellationToken = default)
    {
        var filter = new DeviceListFilter(status is { } s ? Domain.DeviceLifecycle.ParseState(WireNames.Of(s)) : null, farm_id, zone_id, model);
        return await _devices.ListAsync(Tenant, filter, cursor, limit ?? 50, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<ActionResult<Device>> GetDevice(Guid device_id, string? if_None_Match = null, CancellationToken cancellationToken = default)
    {
        var device = await _devices.GetAsync(Tenant, device_id, cancellationToken).ConfigureAwait(false);
        return this.ReadVersioned(if_None_Match, device.Version, device.ToContract);
    }

    public override async Task<ActionResult<Device>> ActivateDevice(Guid device_id, string if_Match, string? idempotency_Key = null, CancellationToken cancellationToken = default) =>
        Answer(await _devices.ActivateAsync(Actor, device_id, if_Match, cancellationToken).ConfigureAwait(false));

    public override async Task<ActionResult<Device>> ReportDeviceFault(Guid device_id, string if_Match, ReportDeviceFaultRequest body, string? idempotency_Key = null, CancellationToken cancellationToken = default) =>
        Answer(await _devices.ReportFaultAsync(Actor, device_id, if_Match, body, cancellationToken).ConfigureAwait(false));

    public override async Task<ActionResult<Device>> ClearDeviceFault(Guid device_id, string if_Match, string? idempotency_Key = null, CancellationToken cancellationToken = default) =>
        Answer(await _devices.ClearFaultAsync(Actor, device_id, if_Match, cancellationToken).ConfigureAwait(false));

    public override async Task<ActionResult<Device>> MoveDevice(Guid device_id, string if_Match, MoveDeviceRequest body, string? idempotency_Key = null, CancellationToken cancellationToken = default) =>
        Answer(await _devices.MoveAsync(Actor, device_id, if_Match, body.Zone_id, cancellationToken).ConfigureAwait(false));

    public override async Task<ActionResult<Device>> DecommissionDevice(Guid device_id, string if_Match, string idempotency_Key, CancellationToken cancellationToken = default) =>
        Answer(await _devices.DecommissionAsync(Actor, device_id, if_Match, cancellationToken).ConfigureAwait(false));

    public override async Task<ActionResult<DeviceWithCredential>> RotateDeviceCredential(Guid device_id, string if_Match, string idempotency_Key, CancellationToken cancellationToken = default)
    {
        var (device, credential) = await _devices.RotateCredentialAsync(Actor, device_id, if_Match, cancellationToken).ConfigureAwait(false);
        Response.Headers.CacheControl = "no-store";
        return this.Versioned(device.Version, new DeviceWithCredential { Device = device.ToContract(), Credential = credential });
    }

    private Guid Tenant => tenant.TenantId ?? throw new ProblemException(ProblemTypes.Unauthenticated, "The access token does not name an organisation.");

    private Actor Actor => new(Tenant, tenant.ActorId);

    private Device Answer(DeviceRecord device) => this.Versioned(device.Version, device.ToContract());
}
