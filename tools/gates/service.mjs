// Starts the built service for a gate (contract tests, SDK consumers) against the test
// PostgreSQL and Redis on a port of its own, and waits until it is ready.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const env = process.env;
export const required = (name) => env[name] || (() => { throw new Error(`${name} is not set: run through ./build.sh`); })();

// Npgsql connection-string values, quoted so a password may hold ';' or '='.
const quote = (v) => `'${v.replace(/'/g, "''")}'`;
const postgres = (user, password, port = 'CANOPY_PG_PORT') =>
  `Host=127.0.0.1;Port=${required(port)};Database=${quote(required('CANOPY_PG_TEST_DATABASE'))};Username=${quote(required(user))};Password=${quote(required(password))}`;

/** The environment of a service under test: the test database and Redis, the Test settings. */
export function serviceEnvironment(extra = {}) {
  return {
    ...env,
    ASPNETCORE_ENVIRONMENT: 'Test',
    ConnectionStrings__Postgres: postgres('CANOPY_PG_APP_USER', 'CANOPY_PG_APP_PASSWORD'),
    ConnectionStrings__PostgresOwner: postgres('CANOPY_PG_OWNER_USER', 'CANOPY_PG_OWNER_PASSWORD'),
    // The streaming standby tools/servers.sh starts: dashboards read it, readiness reports its lag.
    ConnectionStrings__PostgresReplica: postgres('CANOPY_PG_APP_USER', 'CANOPY_PG_APP_PASSWORD', 'CANOPY_PG_REPLICA_PORT'),
    ConnectionStrings__Redis: `127.0.0.1:${required('CANOPY_REDIS_TEST_PORT')},password=${required('CANOPY_REDIS_PASSWORD')}`,
    ...extra,
  };
}

/** Fails when something already answers on the port: it would answer in place of the service under test. */
export async function requireFreePort(baseUrl) {
  try {
    await fetch(`${baseUrl}/health/live`, { signal: AbortSignal.timeout(1000) });
  } catch {
    return;
  }
  throw new Error(`something already answers on ${baseUrl}; stop it (or set CANOPY_TEST_HTTP_PORT) and run again`);
}

/** Starts the service from its build folder (which holds its appsettings*.json); stopped when this process exits. */
export function startService(dllPath, baseUrl, serviceEnv) {
  const dll = dllPath && resolve(dllPath);
  if (!dll || !existsSync(dll)) throw new Error(`--dll ${dll} does not exist: build first (./build.sh --target=Build)`);
  const service = spawn('dotnet', [dll, '--urls', baseUrl], { cwd: dirname(dll), env: serviceEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  return watch(service);
}

/** Stops the process when this one exits or is interrupted. */
export function watch(service) {
  const stop = () => { if (service.exitCode === null && service.signalCode === null) service.kill('SIGTERM'); };
  process.on('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { stop(); process.exit(130); });
  return { process: service, stop };
}

/** Waits until the path answers 200 (60 s at most), failing at once if the service exits. */
export async function waitReady(service, url) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (service.process.exitCode !== null) throw new Error(`the service exited with ${service.process.exitCode} before it was ready`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await sleep(200);
  }
  throw new Error(`the service did not answer ${url} with 200 within 60 s`);
}

async function call(baseUrl, method, path, body, token) {
  const headers = { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`seeding: ${method} ${path} answered ${response.status}: ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

/** A new organisation through the API: its owner's access token and a farm, zone and device to act on. */
export async function seedOrganisation(baseUrl) {
  const email = `gate.${crypto.randomUUID()}@gates.example`;
  const password = 'gate-owner-password-42';
  const signedUp = await call(baseUrl, 'POST', '/api/v1/sign-ups', { organization_name: 'Gate Farms', email, password, display_name: 'Gate Owner' });
  const token = (await call(baseUrl, 'POST', '/api/v1/auth/tokens', { email, password })).access_token;
  const farm = await call(baseUrl, 'POST', '/api/v1/farms', { name: 'Gate Farm', latitude: 52.1, longitude: 5.1, time_zone: 'Europe/Amsterdam' }, token);
  const zone = await call(baseUrl, 'POST', `/api/v1/farms/${farm.id}/zones`, { name: 'Gate Zone', kind: 'field' }, token);
  const device = (await call(baseUrl, 'POST', '/api/v1/devices', { serial_number: `GT-${crypto.randomUUID().slice(0, 12)}`, model: 'dragino-lht65', zone_id: zone.id }, token)).device;
  return { token, ids: { farm_id: farm.id, zone_id: zone.id, device_id: device.id, member_id: signedUp.member_id } };
}
