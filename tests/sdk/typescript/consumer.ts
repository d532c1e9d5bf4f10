// A customer's program on the generated TypeScript client, run with node: sign up, sign in,
// register and activate a device, page through devices, read the problem of a refused verb.
import {
  IdentityClient, FleetClient, DeviceStatus, ZoneKind, FaultCode, Problem,
} from '../../../generated/typescript/canopy-client';

const baseUrl = process.argv[2];
if (!baseUrl) throw new Error('usage: node consumer.js <base url>');
let token = '';
let checks = 0;
const http = { fetch: (url: RequestInfo, init?: RequestInit) => fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), ...(token ? { Authorization: `Bearer ${token}` } : {}) } }) };
const identity = new IdentityClient(baseUrl, http);
const fleet = new FleetClient(baseUrl, http);
const key = () => crypto.randomUUID();

function check(condition: boolean, what: string): void {
  if (!condition) {
    console.error(`sdk consumer (TypeScript): FAILED: ${what}`);
    process.exit(1);
  }
  checks++;
}

async function main(): Promise<void> {
  const email = `sdk.${crypto.randomUUID()}@consumer.example`;
  const password = 'sdk-consumer-password-42';
  await identity.signUp(key(), { organization_name: 'TS Consumer Farms', email, password, display_name: 'Tess Consumer' });
  token = (await identity.issueTokens({ email, password })).access_token;

  const farm = await fleet.createFarm(key(), { name: 'TS Greenhouses', latitude: 51.98, longitude: 5.66, time_zone: 'Europe/Amsterdam' });
  const zone = await fleet.createZone(farm.id, key(), { name: 'Nursery', kind: 'nursery' as ZoneKind });
  const registered: string[] = [];
  for (let i = 0; i < 3; i++) {
    const made = await fleet.registerDevice(key(), { serial_number: `TS-${crypto.randomUUID().slice(0, 12).toUpperCase()}`, model: 'meter-teros-12', zone_id: zone.id });
    check(made.credential.secret.startsWith('cdc_'), 'a registration shows the device credential once');
    registered.push(made.device.id);
  }

  const first = await fleet.activateDevice(registered[0], '"1"');
  check(first.status === ('ACTIVE' as DeviceStatus), 'activate turns a PROVISIONED device ACTIVE');

  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await fleet.listDevices(cursor, 2, undefined, undefined, zone.id);
    seen.push(...page.data.map((d) => d.id));
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  check(JSON.stringify(seen) === JSON.stringify(registered), 'paging by 2 lists the 3 devices once each, in registration order');

  try {
    await fleet.reportDeviceFault(registered[1], '"1"', { code: 'battery_low' as FaultCode, note: 'Not installed yet' });
    check(false, 'reporting a fault on a PROVISIONED device is refused');
  } catch (refused) {
    const problem = refused as Problem;
    check(problem.status === 409, 'the refusal is a 409 problem');
    check(problem.current_state === 'PROVISIONED', 'the problem names the current state');
    check((problem.allowed_verbs ?? []).includes('activate'), 'the problem lists the verbs allowed instead');
  }

  console.log(`sdk consumer (TypeScript): ${checks} checks passed against ${baseUrl}`);
}

main().catch((err: unknown) => {
  console.error(`sdk consumer (TypeScript): FAILED: ${err instanceof Error ? err.message : JSON.stringify(err)}`);
  process.exit(1);
});
