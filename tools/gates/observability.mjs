// Observability gate: the service's real /metrics exposition passes `promtool check metrics`,
// ops/alerts.yaml passes `promtool check rules` and its unit tests, and every metric an alert
// uses is one the service really exposes.
//
//   node tools/gates/observability.mjs <exposition.txt>
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

// Alerts whose metric comes with a later piece of work: allowed to be missing until it lands,
// and the gate fails once it is exposed so this list cannot go stale.
const providedLater = {};

const exposition = process.argv[2];
const failures = [];
if (!exposition || !existsSync(exposition)) {
  console.error(`observability: no exposition at ${exposition}; the contract gate writes it after its run.`);
  process.exit(1);
}

const text = readFileSync(exposition, 'utf8');
const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
if (lint.status !== 0) failures.push(`promtool check metrics (exit ${lint.status}):\n${lint.stdout}${lint.stderr}`);
else console.log(`observability: promtool check metrics passes (${text.split('\n').filter((l) => l && !l.startsWith('#')).length} samples)`);

for (const args of [['check', 'rules', 'ops/alerts.yaml'], ['test', 'rules', 'ops/alerts.test.yaml']]) {
  try {
    execFileSync('promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    console.log(`observability: promtool ${args.join(' ')} passes`);
  } catch (err) {
    failures.push(`promtool ${args.join(' ')}:\n${err.stdout}${err.stderr}`);
  }
}

const exposed = new Set(text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]));
const rules = readFileSync('ops/alerts.yaml', 'utf8');
const expressions = [...rules.matchAll(/expr: \|?\n?([\s\S]*?)\n\s+(?:for|labels):/g)].map((m) => m[1]).join('\n');
const used = new Set([...expressions.matchAll(/\b((?:microsoft|npgsql|system|canopy|dotnet|process)_[a-z0-9_]+)\b/g)].map((m) => m[1])
  .map((name) => name.replace(/_(bucket|sum|count)$/, (suffix) => (exposed.has(name.replace(/_(bucket|sum|count)$/, '')) ? '' : suffix))));
for (const name of used) {
  if (exposed.has(name)) continue;
  if (providedLater[name]) {
    console.log(`observability: ${name} is not exposed yet; it comes with ${providedLater[name]}`);
    continue;
  }
  failures.push(`ops/alerts.yaml uses ${name}, which the service does not expose`);
}
for (const [name, by] of Object.entries(providedLater)) {
  if (exposed.has(name)) failures.push(`${name} is exposed now: remove it from providedLater in tools/gates/observability.mjs (${by})`);
}
console.log(`observability: ${used.size} metrics used by alerts checked against the exposition`);

if (failures.length) {
  console.error(`observability gate FAILED:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
