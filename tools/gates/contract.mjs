// Contract gate: starts a service, waits until it is alive, runs Dredd with the version's
// hooks against the spec, stops the service, and exits with Dredd's verdict.
//
//   node tools/gates/contract.mjs --dll <Canopy.Api.dll> [--version v1]
//   node tools/gates/contract.mjs --selftest   (against a broken stand-in: the gate must fail
//                                               on exactly the transactions it breaks)
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const selftest = args.includes('--selftest');
const version = option('--version', 'v1');
const root = process.cwd();
const env = process.env;
const required = (name) => env[name] || (() => { throw new Error(`${name} is not set: run through ./build.sh`); })();

// Npgsql connection-string values, quoted so a password may hold ';' or '='.
const quote = (v) => `'${v.replace(/'/g, "''")}'`;
const postgres = (user, password) =>
  `Host=127.0.0.1;Port=${required('CANOPY_PG_PORT')};Database=${quote(required('CANOPY_PG_TEST_DATABASE'))};Username=${quote(required(user))};Password=${quote(required(password))}`;

const port = Number(selftest ? Number(required('CANOPY_TEST_HTTP_PORT')) + 1 : required('CANOPY_TEST_HTTP_PORT'));
const baseUrl = `http://127.0.0.1:${port}`;
const outDir = join(root, 'artifacts', 'contracts');
mkdirSync(outDir, { recursive: true });
const label = selftest ? `${version}-selftest` : version;
const scrapeToken = `contract-${process.pid}-${Date.now()}`;

const serviceEnv = {
  ...env,
  ASPNETCORE_ENVIRONMENT: 'Test',
  ConnectionStrings__Postgres: postgres('CANOPY_PG_APP_USER', 'CANOPY_PG_APP_PASSWORD'),
  ConnectionStrings__PostgresOwner: postgres('CANOPY_PG_OWNER_USER', 'CANOPY_PG_OWNER_PASSWORD'),
  ConnectionStrings__Redis: `127.0.0.1:${required('CANOPY_REDIS_TEST_PORT')},password=${required('CANOPY_REDIS_PASSWORD')}`,
  // TEST-NET-1 (RFC 5737): no local caller is in it, so /metrics admits only the token.
  Metrics__AllowedNetworks: '192.0.2.0/24',
  Metrics__ScrapeToken: scrapeToken,
  CANOPY_CONTRACT_SCRAPE_TOKEN: scrapeToken,
  CANOPY_CONTRACT_REDIS_PORT: required('CANOPY_REDIS_TEST_PORT'),
  CANOPY_CONTRACT_SUMMARY: join(outDir, `${label}-summary.json`),
};

// A service left over from an earlier run would answer in place of the one under test.
async function portIsFree() {
  try {
    await fetch(`${baseUrl}/health/live`, { signal: AbortSignal.timeout(1000) });
    return false;
  } catch {
    return true;
  }
}
if (!(await portIsFree())) {
  console.error(`contract gate: something already answers on ${baseUrl}; stop it (or set CANOPY_TEST_HTTP_PORT) and run again.`);
  process.exit(1);
}

let service;
if (selftest) {
  service = spawn(process.execPath, [join(root, 'tests', 'contracts', 'selftest', 'broken-service.mjs'), String(port)], { env: serviceEnv, stdio: 'inherit' });
} else {
  const dll = option('--dll') && resolve(option('--dll'));
  if (!dll || !existsSync(dll)) throw new Error(`--dll ${dll} does not exist: build first (./build.sh --target=Build)`);
  // From its build folder, which holds its appsettings*.json (the content root is the working directory).
  service = spawn('dotnet', [dll, '--urls', baseUrl], { cwd: dirname(dll), env: serviceEnv, stdio: ['ignore', 'ignore', 'inherit'] });
}

const stop = () => { if (service.exitCode === null && service.signalCode === null) service.kill('SIGTERM'); };
process.on('exit', stop);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { stop(); process.exit(130); });

// Ready, not only alive: the first readiness transaction must not meet a cold pool.
async function waitReady() {
  const deadline = Date.now() + 60_000;
  const path = selftest ? '/health/live' : '/health/ready';
  while (Date.now() < deadline) {
    if (service.exitCode !== null) throw new Error(`the service exited with ${service.exitCode} before it was ready`);
    try {
      const res = await fetch(`${baseUrl}${path}`);
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await sleep(200);
  }
  throw new Error(`the service did not answer ${baseUrl}${path} with 200 within 60 s`);
}

function runDredd() {
  const report = join(outDir, `${label}.xml`);
  const dredd = spawn(process.execPath, [
    join(root, 'node_modules', 'dredd', 'bin', 'dredd'),
    join(root, '.openapi', 'api.yaml'), baseUrl,
    '--hookfiles', join(root, 'tests', 'contracts', version, 'hooks.js'),
    '--loglevel', 'warning',
    '--reporter', 'xunit', '--output', report,
  ], { env: serviceEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => {
    const text = chunk.toString();
    output += text;
    // Dredd warns about every OAS 3 keyword it ignores; bodies are validated by the hooks instead.
    for (const line of text.split('\n')) {
      if (line.trim() && !/unsupported key|not fully supported|padLevels|trace-warnings|Compilation warning/i.test(line)) process.stdout.write(`${line}\n`);
    }
  };
  dredd.stdout.on('data', keep);
  dredd.stderr.on('data', keep);
  return new Promise((resolve) => dredd.on('close', (code) => resolve({ code, output, report })));
}

try {
  await waitReady();
  const { code, report } = await runDredd();
  if (service.exitCode !== null) throw new Error(`the service exited with ${service.exitCode} during the run`);
  if (!selftest) {
    // The exposition after real traffic, for the observability gate (promtool, alert metrics).
    const scraped = await fetch(`${baseUrl}/metrics`, { headers: { Authorization: `Bearer ${scrapeToken}` } });
    mkdirSync(join(root, 'artifacts', 'metrics'), { recursive: true });
    writeFileSync(join(root, 'artifacts', 'metrics', 'exposition.txt'), await scraped.text());
    stop();
    process.exit(code === 0 ? 0 : 1);
  }
  stop();
  // The gate must fail, and on exactly the transactions the stand-in breaks.
  const xml = existsSync(report) ? readFileSync(report, 'utf8') : '';
  const failed = [...xml.matchAll(/<testcase name="([^"]+)"[^>]*>\s*<failure/g)].map((m) => m[1]);
  const mustFail = ['GET (200) /health/live', 'GET (200) /health/ready'];
  const mustPass = ['GET (200) /metrics', 'GET (403) /metrics'];
  const problems = [];
  if (code === 0) problems.push('Dredd passed against a broken service');
  for (const name of mustFail) if (!failed.includes(name)) problems.push(`not failed: ${name}`);
  for (const name of mustPass) if (failed.includes(name)) problems.push(`failed although correct: ${name}`);
  if (problems.length) {
    console.error(`contract self-test FAILED:\n  ${problems.join('\n  ')}\n  failed transactions: ${failed.join('; ') || 'none'}`);
    process.exit(1);
  }
  console.log(`contract self-test: the gate failed on the broken bodies (${failed.length} failed transactions) and passed the correct one`);
  process.exit(0);
} catch (err) {
  console.error(`contract gate: ${err.message}`);
  stop();
  process.exit(1);
}
