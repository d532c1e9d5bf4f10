using System.Net.Http.Headers;
using Canopy.Client;

// A customer's program on the packed C# SDK: sign up, sign in, register and activate a device,
// page through devices, and read the typed problem of a refused verb. Exits 1 on any surprise.
var checks = 0;
var baseUrl = args.Length > 0 ? args[0] : throw new ArgumentException("usage: Canopy.Sdk.Consumer <base url>");
using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
var identity = new IdentityClient(http);
var fleet = new FleetClient(http);
var email = $"sdk.{Guid.NewGuid():N}@consumer.example";
const string Password = "sdk-consumer-password-42";

var organisation = await identity.SignUpAsync(Guid.NewGuid().ToString(), new SignUpRequest
{
    Organization_name = "SDK Consumer Farms",
    Email = email,
    Password = Password,
    Display_name = "Sam Consumer",
});
var tokens = await identity.IssueTokensAsync(new IssueTokensRequest { Email = email, Password = Password });
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens.Access_token);
Check(organisation.Role == Role.Owner, "the organisation's first member is its owner");

var farm = await fleet.CreateFarmAsync(Guid.NewGuid().ToString(), new CreateFarmRequest
{
    Name = "Consumer Greenhouses", Latitude = 52.09, Longitude = 5.12, Time_zone = "Europe/Amsterdam",
});
var zone = await fleet.CreateZoneAsync(farm.Id, Guid.NewGuid().ToString(), new CreateZoneRequest { Name = "House 1", Kind = ZoneKind.Greenhouse });
var registered = new List<Device>();
for (var i = 0; i < 3; i++)
{
    var device = await fleet.RegisterDeviceAsync(Guid.NewGuid().ToString(), new RegisterDeviceRequest
    {
        Serial_number = $"SDK-{Guid.NewGuid():N}"[..20].ToUpperInvariant(), Model = "sensirion-scd41", Zone_id = zone.Id,
    });
    Check(device.Credential.Secret.StartsWith("cdc_", StringComparison.Ordinal), "a registration shows the device credential once");
    registered.Add(device.Device);
}

var active = await fleet.ActivateDeviceAsync(registered[0].Id, $"\"{registered[0].Version}\"");
Check(active.Status == DeviceStatus.ACTIVE, "activate turns a PROVISIONED device ACTIVE");
Check(active.Allowed_verbs.Contains(DeviceVerb.ReportFault), "an ACTIVE device allows report-fault");

var seen = new List<Guid>();
string? cursor = null;
do
{
    var page = await fleet.ListDevicesAsync(cursor, limit: 2, zone_id: zone.Id);
    seen.AddRange(page.Data.Select(d => d.Id));
    cursor = page.Next_cursor;
}
while (cursor is not null);
Check(seen.SequenceEqual(registered.Select(d => d.Id)), "paging by 2 lists the 3 devices once each, in registration order");

try
{
    await fleet.ReportDeviceFaultAsync(registered[1].Id, "\"1\"", new ReportDeviceFaultRequest { Code = FaultCode.Battery_low, Note = "Not installed yet" });
    Check(false, "reporting a fault on a PROVISIONED device is refused");
}
catch (CanopyApiException<Problem> refused)
{
    Check(refused.StatusCode == 409, "the refusal is a 409");
    Check(refused.Result.Type.ToString() == "https://canopy.dev/problems/conflict", "its problem type is conflict");
    Check(refused.Result.Current_state == "PROVISIONED", "the problem names the current state");
    Check(refused.Result.Allowed_verbs?.Contains("activate") == true, "the problem lists the verbs allowed instead");
}

Console.WriteLine($"sdk consumer (C#): {checks} checks passed against {baseUrl} with Canopy.Client {typeof(FleetClient).Assembly.GetName().Version}");
return 0;

void Check(bool condition, string what)
{
    if (!condition)
    {
        Console.Error.WriteLine($"sdk consumer (C#): FAILED: {what}");
        Environment.Exit(1);
    }

    checks++;
}
