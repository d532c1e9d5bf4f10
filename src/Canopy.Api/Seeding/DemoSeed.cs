using System.Diagnostics;
using System.Security.Cryptography;
using Bogus;
using Canopy.Contracts;
using Canopy.Fleet.Features;
using Canopy.Identity.Domain;
using Canopy.Identity.Features;
using Canopy.Identity.Security;
using Canopy.Platform.Data;
using Canopy.Platform.Postgres;
using Canopy.Telemetry.Features;
using Canopy.Telemetry.Security;

namespace Canopy.Api.Seeding;

/// <summary>
/// A clock the seed moves back in time, so the modules' own use cases record each farm, member
/// and device at the moment the story says it joined; it reads the real time once released.
/// </summary>
internal sealed class SeedClock : TimeProvider
{
    private DateTimeOffset? _at;

    public override DateTimeOffset GetUtcNow() => _at ?? System.GetUtcNow();

    public void Set(DateTimeOffset at) => _at = at;

    public void Release() => _at = null;
}

/// <summary>
/// Fills the demo organisation (DemoFleet) through the modules' use cases: the owner signs up,
/// the team is invited and accepts, farms, zones and devices are created and activated on their
/// own dates, six months of readings are ingested through the ingestion path in 5,000-reading
/// batches (history, so not sent to live streams), a few devices report faults, and the rollups are rebuilt in bulk. Runs once: an
/// organisation whose owner's e-mail exists is left alone and its sign-in is printed again.
/// </summary>
internal sealed class DemoSeed(IServiceProvider services, IConfiguration configuration)
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(15);
    private const int Batch = 5000;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var signInFile = Path.GetFullPath(configuration["Seed:SignInFile"] ?? Path.Combine(".data", "demo-sign-in.txt"));
        var pii = Get<PiiProtector>();
        if (await Get<IdentityDatabase>().TenantOfAsync("email", pii.EmailIndex(DemoFleet.OwnerEmail), cancellationToken).ConfigureAwait(false) is not null)
        {
            Console.WriteLine(File.Exists(signInFile)
                ? $"Canopy: the demo organisation exists already.{Environment.NewLine}{await File.ReadAllTextAsync(signInFile, cancellationToken).ConfigureAwait(false)}"
                : $"Canopy: the demo organisation exists already, but its sign-in file {signInFile} is gone; reset the database to seed it anew.");
            return 0;
        }

        var started = Stopwatch.GetTimestamp();
        var clock = (SeedClock)Get<TimeProvider>();
        var now = clock.GetUtcNow();
        var random = new Randomizer(20261203);
        var password = $"{new Faker { Random = random }.Hacker.Adjective()}-{Convert.ToBase64String(RandomNumberGenerator.GetBytes(12)).Replace('+', 'x').Replace('/', 'y')}";

        clock.Set(now.AddDays(-182));
        var owner = await Get<SignUp>().HandleAsync(new SignUpRequest
        {
            Organization_name = DemoFleet.Organisation,
            Email = DemoFleet.OwnerEmail,
            Password = password,
            Display_name = DemoFleet.OwnerName,
        }, null, cancellationToken).ConfigureAwait(false);
        var tenant = owner.Tenant_id;
        await AddTeamAsync(clock, now, new AccessTokenSubject(owner.User_id, tenant, owner.Member_id, MemberRole.Owner, 1), cancellationToken).ConfigureAwait(false);

        var actor = new Actor(tenant, owner.User_id);
        var devices = await AddFleetAsync(clock, now, actor, random, cancellationToken).ConfigureAwait(false);

        clock.Release();
        var curves = new ReadingCurves(random);
        var ingestion = Get<Ingestion>();
        var readings = 0;
        foreach (var device in devices)
        {
            readings += await SendHistoryAsync(ingestion, curves, device, tenant, clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        }

        await AddFaultsAsync(actor, devices, cancellationToken).ConfigureAwait(false);
        await Get<RollupRebuild>().RebuildAsync(tenant, devices.Select(d => d.Id).ToList(), cancellationToken).ConfigureAwait(false);

        var signIn = $"Demo sign-in: {DemoFleet.OwnerEmail} / {password}";
        Directory.CreateDirectory(Path.GetDirectoryName(signInFile)!);
        await File.WriteAllTextAsync(signInFile, signIn + Environment.NewLine, cancellationToken).ConfigureAwait(false);
        Console.WriteLine($"Canopy: seeded {DemoFleet.Organisation}: {DemoFleet.Farms.Count} farms, {devices.Count} devices, {DemoFleet.Members.Count + 1} members, "
            + $"{readings:N0} readings in {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s.{Environment.NewLine}{signIn} (also in {signInFile})");
        return 0;
    }

    private async Task AddTeamAsync(SeedClock clock, DateTimeOffset now, AccessTokenSubject owner, CancellationToken cancellationToken)
    {
        var members = Get<Members>();
        foreach (var member in DemoFleet.Members)
        {
            clock.Set(now.AddDays(-member.JoinedDaysAgo));
            var role = WireNames.Parse<Role>(member.Role);
            var invitation = await members.InviteAsync(owner, new InviteMemberRequest { Email = $"{member.EmailLocalPart}@verdant-growers.example", Role = role }, null, cancellationToken)
                .ConfigureAwait(false);
            // The token travels encrypted in the outbox to its delivery; the seed reads it there, as the delivery would.
            var cipher = await PostgresTransaction.ReadAsync(Get<PostgresDataSources>().Primary, owner.TenantId,
                "SELECT payload->>'token_cipher' FROM platform.outbox WHERE aggregate_id = $1 AND type = 'invitation.created'",
                r => r.GetString(0), cancellationToken, invitation.Id).ConfigureAwait(false);
            clock.Set(now.AddDays(-member.JoinedDaysAgo).AddHours(3));
            await members.AcceptAsync(new AcceptInvitationRequest
            {
                Token = Get<PiiProtector>().Decrypt(Convert.FromBase64String(cipher.Single())),
                Password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)),
                Display_name = member.DisplayName,
            }, null, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<List<SeededDevice>> AddFleetAsync(SeedClock clock, DateTimeOffset now, Actor actor, Randomizer random, CancellationToken cancellationToken)
    {
        var devices = new List<SeededDevice>();
        foreach (var farm in DemoFleet.Farms)
        {
            var joined = now.AddDays(-farm.JoinedDaysAgo);
            clock.Set(joined);
            var created = await Get<Farms>().CreateAsync(actor, new CreateFarmRequest
            {
                Name = farm.Name, Latitude = farm.Latitude, Longitude = farm.Longitude, Time_zone = farm.TimeZone, Area_ha = farm.AreaHa,
            }, cancellationToken).ConfigureAwait(false);
            foreach (var (zone, z) in farm.Zones.Select((zone, z) => (zone, z)))
            {
                clock.Set(joined.AddHours(1 + z));
                var zoneRecord = await Get<Zones>().CreateAsync(actor, created.Id, new CreateZoneRequest
                {
                    Name = zone.Name,
                    Kind = WireNames.Parse<ZoneKind>(zone.Kind),
                    Targets = Targets(zone.Kind),
                }, cancellationToken).ConfigureAwait(false);
                foreach (var model in zone.Devices)
                {
                    // Most devices arrive with their farm, some weeks later.
                    var installed = joined.AddHours(2 + z).AddDays(random.Bool(0.75f) ? random.Double(0, 2) : random.Double(7, Math.Max(8, farm.JoinedDaysAgo * 0.5)));
                    clock.Set(installed);
                    var (device, _) = await Get<Devices>().RegisterAsync(actor, new RegisterDeviceRequest
                    {
                        Serial_number = $"{model.Split('-')[^1].ToUpperInvariant()}-{random.Hexadecimal(8, "").ToUpperInvariant()}",
                        Model = model,
                        Zone_id = zoneRecord.Id,
                    }, cancellationToken).ConfigureAwait(false);
                    clock.Set(installed.AddMinutes(20));
                    var active = await Get<Devices>().ActivateAsync(actor, device.Id, EntityTag.FromVersion(device.Version), cancellationToken).ConfigureAwait(false);
                    devices.Add(new SeededDevice(active.Id, model, active.Metrics, zone.Kind, farm, installed.AddMinutes(20), active.Version, devices.Count % 9 == 4));
                }
            }
        }

        return devices;
    }

    /// <summary>Every reading of a device from its activation to now, in batches through the ingestion path.</summary>
    private static async Task<int> SendHistoryAsync(Ingestion ingestion, ReadingCurves curves, SeededDevice device, Guid tenant, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var character = curves.Character(device.Since, now, device.Drifting);
        var batch = new List<Reading>(Batch);
        var sent = 0;
        for (var at = device.Since; at < now; at += Interval)
        {
            foreach (var metric in device.Metrics)
            {
                if (curves.Value(metric, device.ZoneKind, device.Farm, character, at, device.Since) is { } value)
                {
                    batch.Add(new Reading { Metric = WireNames.Parse<Metric>(metric), Value = value, Recorded_at = at });
                }
            }

            if (batch.Count >= Batch - device.Metrics.Length)
            {
                sent += await SendAsync(batch).ConfigureAwait(false);
            }
        }

        return sent + (batch.Count > 0 ? await SendAsync(batch).ConfigureAwait(false) : 0);

        async Task<int> SendAsync(List<Reading> readings)
        {
            var result = await ingestion.IngestAsync(new DeviceCaller(device.Id, tenant), readings.ToList(), cancellationToken, live: false).ConfigureAwait(false);
            readings.Clear();
            return result.Accepted;
        }
    }

    /// <summary>A drifting sensor reported for calibration, a LoRaWAN node low on battery: the faults a fleet always has.</summary>
    private async Task AddFaultsAsync(Actor actor, List<SeededDevice> devices, CancellationToken cancellationToken)
    {
        var faults = devices.Where(d => d.Drifting).Take(1).Select(d => (d, FaultCode.Calibration_drift, "Reads about 2 °C above the handheld reference; recalibrate."))
            .Concat(devices.Where(d => d.Model == "dragino-lht65").Skip(1).Take(1).Select(d => (d, FaultCode.Battery_low, "Battery under 3.3 V; replace at the next round.")));
        foreach (var (device, code, note) in faults)
        {
            await Get<Devices>().ReportFaultAsync(actor, device.Id, EntityTag.FromVersion(device.Version), new ReportDeviceFaultRequest { Code = code, Note = note }, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    private static ZoneTargets Targets(string kind) => kind switch
    {
        "greenhouse" => new ZoneTargets
        {
            Temperature_c = new MetricRange { Min = 18, Max = 27 },
            Humidity_pct = new MetricRange { Min = 60, Max = 85 },
            Co2_ppm = new MetricRange { Min = 400, Max = 1200 },
        },
        "nursery" => new ZoneTargets { Temperature_c = new MetricRange { Min = 20, Max = 26 }, Humidity_pct = new MetricRange { Min = 70, Max = 90 } },
        "storage" => new ZoneTargets { Temperature_c = new MetricRange { Min = 2, Max = 6 } },
        _ => new ZoneTargets { Soil_moisture_pct = new MetricRange { Min = 25, Max = 45 } },
    };

    private T Get<T>()
        where T : notnull => services.GetRequiredService<T>();

    private sealed record SeededDevice(Guid Id, string Model, string[] Metrics, string ZoneKind, DemoFarm Farm, DateTimeOffset Since, int Version, bool Drifting);
}
