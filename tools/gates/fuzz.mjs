// Fuzz gate: Portman turns the spec into a Postman collection with fuzzing variations (missing
// required members, numbers out of range, strings too short or too long, in bodies, queries and
// headers); Newman runs it against the built service, signed in as a seeded organisation's
// owner with a real farm, zone and device. tests/fuzz/gate.js checks every answer: no 5XX, every
// 4XX a Canopy problem, every 2XX JSON body valid against its response schema.
//
//   node tools/gates/fuzz.mjs --dll <Canopy.Api.dll>
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { required, serviceEnvironment, requireFreePort, startService, waitReady, seedOrganisation } from './service.mjs';

const require = createRequire(import.meta.url);
const newman = require('newman');
const { toDraft07, convert } = require('../../tests/contracts/lib/json-schema.js');

const args = process.argv.slice(2);
const option = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const root = process.cwd();
const selftest = args.includes('--selftest');
const injected = option('--inject-fault');
const baseUrl = `http://127.0.0.1:${Number(required('CANOPY_TEST_HTTP_PORT')) + (selftest ? 5 : injected ? 6 : 3)}`;
const operationIds = new Map();
const outDir = join(root, 'artifacts', 'fuzz');
mkdirSync(outDir, { recursive: true });
const spec = yaml.load(readFileSync(join(root, '.openapi', 'api.yaml'), 'utf8'));

// The spec's operation of a collection request: same method, same path template.
function operationOf(request) {
  const segments = request.url.path.map((s) => (s.startsWith(':') ? `{${s.slice(1)}}` : s));
  const template = `/${segments.join('/')}`;
  const operation = (spec.paths[template] || {})[request.method.toLowerCase()];
  return operation ? { template, operation } : null;
}

function examplesOf(operation) {
  return new Set((operation.parameters || []).map((p) => (p.$ref ? spec.components.parameters[p.$ref.split('/').pop()] : p)).map((p) => String(p.example)));
}

function prepare(collection, ids) {
  const requests = [];
  const walk = (items) => items.forEach((item) => (item.item ? walk(item.item) : requests.push(item)));
  walk(collection.item);
  for (const item of requests) {
    const found = operationOf(item.request);
    if (!found) continue;
    operationIds.set(item.name, found.operation.operationId);
    // Real ids instead of the spec's examples, so requests reach the features, not only 404.
    for (const variable of item.request.url.variable || []) {
      if (ids[variable.key]) variable.value = ids[variable.key];
    }
    const examples = examplesOf(found.operation);
    for (const header of item.request.header || []) {
      const name = header.key.toLowerCase();
      // Each request its own key (a shared example would be answered as a replay), and any
      // version accepted, unless the fuzzer changed the value on purpose.
      if (name === 'idempotency-key' && examples.has(header.value)) header.value = '{{$guid}}';
      if (name === 'if-match' && examples.has(header.value)) header.value = '*';
    }
    const schemas = [];
    for (const [status, response] of Object.entries(found.operation.responses || {})) {
      const resolved = response.$ref ? spec.components.responses[response.$ref.split('/').pop()] : response;
      const json = Object.entries(resolved.content || {}).find(([media]) => /json$/.test(media))?.[1];
      if (/^2/.test(status) && json && json.schema) {
        schemas.push(`pm.variables.set('response_schema_${status}', ${JSON.stringify(JSON.stringify(convert(json.schema)))});`);
      }
    }
    item.event = (item.event || []).filter((e) => e.listen !== 'prerequest');
    item.event.push({ listen: 'prerequest', script: { type: 'text/javascript', exec: schemas } });
  }
  // The component schemas once, for every request's response schema to refer to.
  const { definitions } = toDraft07({}, spec);
  collection.variable = [...(collection.variable || []), { key: 'schema_definitions', value: JSON.stringify(definitions) }];
  return requests.length;
}

function generate() {
  const collectionPath = join(outDir, selftest ? 'selftest-collection.json' : 'collection.json');
  const portman = spawnSync(process.execPath, [
    join(root, 'node_modules', '@apideck', 'portman', 'bin', 'portman'),
    '-l', join(root, '.openapi', 'api.yaml'), '-b', baseUrl,
    '-c', join(root, 'tests', 'fuzz', 'portman-config.json'), '--filterFile', join(root, 'tests', 'fuzz', 'filter.json'),
    '-o', collectionPath,
  ], { cwd: root, encoding: 'utf8' });
  if (portman.status !== 0) throw new Error(`Portman failed: ${portman.stdout}${portman.stderr}`);
  return { collectionPath, collection: JSON.parse(readFileSync(collectionPath, 'utf8')) };
}

function run(collection, token) {
  const byOperation = new Map();
  const failures = [];
  const idOf = (item) => operationIds.get(item.name) || item.name;
  return new Promise((resolve, reject) => {
    newman.run({
      collection,
      // Portman's collection auth and openapi-to-postman's item auth name the token differently.
      envVar: [{ key: 'baseUrl', value: baseUrl }, { key: 'bearer_token', value: token }, { key: 'bearerToken', value: token }],
      reporters: [],
      timeoutRequest: 15000,
    }, (err, result) => (err ? reject(err) : resolve({ byOperation, failures, stats: result.run.stats })))
      .on('request', (err, e) => {
        const id = idOf(e.item);
        const stats = byOperation.get(id) || { requests: 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, failed: 0 };
        stats.requests++;
        const code = e.response ? e.response.code : 0;
        if (code) stats[`${Math.floor(code / 100)}xx`]++;
        byOperation.set(id, stats);
      })
      .on('assertion', (err, e) => {
        if (!err) return;
        const id = idOf(e.item);
        if (byOperation.has(id)) byOperation.get(id).failed++;
        failures.push(`${id} — ${e.item.name}: ${e.assertion}: ${err.message}`.slice(0, 400));
      });
  });
}

if (selftest) {
  // A stand-in that answers what the service must never: 500s, 4XX without a problem body, and
  // a 2XX body that breaks its schema.
  const server = createServer((req, res) => {
    if (req.url.startsWith('/health/live')) {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":42}');
    } else if (req.url.startsWith('/api/v1/farms')) {
      res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"error":"bad"}');
    } else {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('boom');
    }
  });
  await new Promise((resolve) => server.listen(Number(new URL(baseUrl).port), '127.0.0.1', resolve));
  try {
    const { collection } = generate();
    prepare(collection, { farm_id: crypto.randomUUID(), zone_id: crypto.randomUUID(), device_id: crypto.randomUUID(), member_id: crypto.randomUUID() });
    const { byOperation, failures } = await run(collection, 'not-a-token');
    const fiveHundreds = [...byOperation.values()].reduce((n, s) => n + s['5xx'], 0);
    const problemFailures = failures.filter((f) => f.includes('a 4XX is a Canopy problem')).length;
    const schemaFailures = failures.filter((f) => f.includes('matches its response schema')).length;
    const ok = fiveHundreds > 0 && failures.filter((f) => f.includes('no 5XX')).length === fiveHundreds && problemFailures > 0 && schemaFailures > 0;
    console.log(ok
      ? `fuzz self-test: the gate failed ${fiveHundreds} 5XX answers, ${problemFailures} 4XX answers that were not problems and ${schemaFailures} 2XX bodies off their schema`
      : `fuzz self-test FAILED: ${fiveHundreds} 5XX answers, ${failures.length} failed checks, ${problemFailures} non-problem 4XX and ${schemaFailures} schema breaks caught`);
    process.exit(ok ? 0 : 1);
  } finally {
    server.close();
  }
}

let service;
try {
  await requireFreePort(baseUrl);
  service = startService(option('--dll'), baseUrl, serviceEnvironment(injected ? { Faults__FailOperation: injected } : {}));
  await waitReady(service, `${baseUrl}/health/ready`);
  const { token, ids } = await seedOrganisation(baseUrl);
  const { collectionPath, collection } = generate();
  const count = prepare(collection, ids);
  writeFileSync(collectionPath, JSON.stringify(collection, null, 2));
  const { byOperation, failures, stats } = await run(collection, token);

  if (injected) {
    const caught = failures.filter((f) => f.startsWith(`${injected} `) && f.includes('no 5XX')).length;
    const elsewhere = failures.filter((f) => !f.startsWith(`${injected} `)).length;
    console.log(caught > 0 && elsewhere === 0
      ? `fuzz self-test: the 5XX injected into ${injected} failed the gate ${caught} time(s), and nothing else did`
      : `fuzz self-test FAILED: ${caught} failure(s) for the injected 5XX in ${injected}, ${elsewhere} elsewhere`);
    service.stop();
    process.exit(caught > 0 && elsewhere === 0 ? 0 : 1);
  }

  const report = { base_url: baseUrl, requests: count, operations: Object.fromEntries([...byOperation].sort()), failures };
  writeFileSync(join(outDir, 'report.json'), JSON.stringify(report, null, 2));
  console.log('fuzz: requests per operation (2xx / 4xx / 5xx, failed checks):');
  for (const [id, s] of [...byOperation].sort()) console.log(`  ${id.padEnd(28)} ${String(s.requests).padStart(3)}  ${s['2xx']} / ${s['4xx']} / ${s['5xx']}${s.failed ? `, ${s.failed} failed` : ''}`);
  console.log(`fuzz: ${stats.requests.total} requests, ${stats.assertions.total} checks, ${failures.length} failed (report: artifacts/fuzz/report.json)`);
  for (const failure of failures.slice(0, 30)) console.error(`  FAILED ${failure}`);
  service.stop();
  process.exit(failures.length === 0 && stats.requests.failed === 0 ? 0 : 1);
} catch (err) {
  console.error(`fuzz gate: ${err.message}`);
  service?.stop();
  process.exit(1);
}
