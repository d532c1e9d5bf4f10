// Contract gate: starts a service, waits until it is alive, runs Dredd with the version's
// hooks against the spec, stops the service, and exits with Dredd's verdict.
//
//   node tools/gates/contract.mjs --dll <Canopy.Api.dll> [--version v1]
//   node tools/gates/contract.mjs --selftest   (against a broken stand-in: the gate must fail
//                                               on exactly the transactions it breaks)
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { required, serviceEnvironment, requireFreePort, startService, watch, waitReady } from './service.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const selftest = args.includes('--selftest');
const version = option('--version', 'v1');
const root = process.cwd();
const port = Number(selftest ? Number(required('CANOPY_TEST_HTTP_PORT')) + 1 : required('CANOPY_TEST_HTTP_PORT'));
const baseUrl = `http://127.0.0.1:${port}`;
const outDir = join(root, 'artifacts', 'contracts');
mkdirSync(outDir, { recursive: true });
const label = selftest ? `${version}-selftest` : version;
const scrapeToken = `contract-${process.pid}-${Date.now()}`;

const serviceEnv = serviceEnvironment({
  // TEST-NET-1 (RFC 5737): no local caller is in it, so /metrics admits only the token.
  Metrics__AllowedNetworks: '192.0.2.0/24',
  Metrics__ScrapeToken: scrapeToken,
  CANOPY_CONTRACT_SCRAPE_TOKEN: scrapeToken,
  CANOPY_CONTRACT_REDIS_PORT: required('CANOPY_REDIS_TEST_PORT'),
  CANOPY_CONTRACT_SUMMARY: join(outDir, `${label}-summary.json`),
});

try {
  await requireFreePort(baseUrl);
} catch (err) {
  console.error(`contract gate: ${err.message}`);
  process.exit(1);
}

const service = selftest
  ? watch(spawn(process.execPath, [join(root, 'tests', 'contracts', 'selftest', 'broken-service.mjs'), String(port)], { env: serviceEnv, stdio: 'inherit' }))
  : startService(option('--dll'), baseUrl, serviceEnv);
const stop = service.stop;

// Ready, not only alive: the first readiness transaction must not meet a cold pool.
const ready = () => waitReady(service, `${baseUrl}${selftest ? '/health/live' : '/health/ready'}`);

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
  await ready();
  const { code, report } = await runDredd();
  if (service.process.exitCode !== null) throw new Error(`the service exited with ${service.process.exitCode} during the run`);
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
