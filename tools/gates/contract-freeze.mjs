// Contract freeze: once an API version is deprecated in the spec (info.x-versions.<vN>.status:
// deprecated), its Dredd hooks under tests/contracts/<vN>/ are frozen. The folder's FROZEN file
// records each file's SHA-256 when it was frozen; afterwards nothing may change there, except
// appending "sunset_date: YYYY-MM-DD" to FROZEN.
//
//   node tools/gates/contract-freeze.mjs            check every deprecated version (CI)
//   node tools/gates/contract-freeze.mjs --freeze v1   write tests/contracts/v1/FROZEN
//   node tools/gates/contract-freeze.mjs --selftest    prove the guard fails on an edit
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import yaml from 'js-yaml';

const root = process.cwd();
const args = process.argv.slice(2);
const sunsetLine = /^sunset_date: \d{4}-\d{2}-\d{2}$/;

function files(folder, base = folder) {
  return readdirSync(folder).flatMap((name) => {
    const full = join(folder, name);
    if (statSync(full).isDirectory()) return files(full, base);
    return name === 'FROZEN' && folder === base ? [] : [relative(base, full).split('\\').join('/')];
  }).sort();
}

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const manifest = (folder) => files(folder).map((f) => `${sha256(join(folder, f))}  ${f}`).join('\n') + '\n';

// The problems of a frozen folder: its files against FROZEN, and FROZEN against how it was written.
export function check(folder, frozenAsWritten) {
  const problems = [];
  const frozenPath = join(folder, 'FROZEN');
  if (!existsSync(frozenPath)) return [`${folder} has no FROZEN file: run node tools/gates/contract-freeze.mjs --freeze <version> and commit it`];
  const lines = readFileSync(frozenPath, 'utf8').split('\n').filter((l) => l.length > 0);
  const recorded = lines.filter((l) => !sunsetLine.test(l));
  const original = frozenAsWritten.split('\n').filter((l) => l.length > 0);
  if (recorded.join('\n') !== original.join('\n')) problems.push('FROZEN was edited (only a "sunset_date: YYYY-MM-DD" line may be appended)');
  if (lines.slice(original.length).some((l) => !sunsetLine.test(l))) problems.push('FROZEN gained a line that is not a sunset_date');
  const expected = new Map(original.filter((l) => !sunsetLine.test(l)).map((l) => [l.slice(66), l.slice(0, 64)]));
  const present = files(folder);
  for (const file of present) {
    if (!expected.has(file)) problems.push(`${file} was added after the freeze`);
    else if (expected.get(file) !== sha256(join(folder, file))) problems.push(`${file} changed after the freeze`);
  }
  for (const file of expected.keys()) if (!present.includes(file)) problems.push(`${file} was removed after the freeze`);
  return problems;
}

function deprecatedVersions() {
  const spec = yaml.load(readFileSync(join(root, '.openapi', 'api.yaml'), 'utf8'));
  return Object.entries(spec.info['x-versions'] || {}).filter(([, v]) => v && v.status === 'deprecated').map(([name]) => name);
}

// FROZEN as the commit that added it wrote it (the working copy may only have appended to it).
function frozenAsCommitted(relativePath) {
  try {
    const added = execFileSync('git', ['log', '--diff-filter=A', '--format=%H', '--', relativePath], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop();
    if (!added) return null;
    return execFileSync('git', ['show', `${added}:${relativePath}`], { cwd: root, encoding: 'utf8' });
  } catch {
    return null;
  }
}

if (args[0] === '--freeze') {
  const folder = join(root, 'tests', 'contracts', args[1]);
  writeFileSync(join(folder, 'FROZEN'), manifest(folder));
  console.log(`contract freeze: ${args[1]} frozen (${files(folder).length} files); commit tests/contracts/${args[1]}/FROZEN`);
} else if (args[0] === '--selftest') {
  const folder = mkdtempSync(join(tmpdir(), 'canopy-freeze-'));
  try {
    mkdirSync(join(folder, 'lib'));
    writeFileSync(join(folder, 'hooks.js'), "module.exports = {};\n");
    writeFileSync(join(folder, 'lib', 'plan.js'), "module.exports = { plan: {} };\n");
    writeFileSync(join(folder, 'FROZEN'), manifest(folder));
    const original = readFileSync(join(folder, 'FROZEN'), 'utf8');
    const outcomes = [];
    outcomes.push(['untouched', check(folder, original).length === 0]);
    appendFileSync(join(folder, 'FROZEN'), 'sunset_date: 2027-06-30\n');
    outcomes.push(['sunset_date appended', check(folder, original).length === 0]);
    writeFileSync(join(folder, 'lib', 'plan.js'), "module.exports = { plan: { changed: true } };\n");
    outcomes.push(['a hook edited', check(folder, original).length > 0]);
    writeFileSync(join(folder, 'lib', 'plan.js'), "module.exports = { plan: {} };\n");
    writeFileSync(join(folder, 'extra.js'), '\n');
    outcomes.push(['a file added', check(folder, original).length > 0]);
    rmSync(join(folder, 'extra.js'));
    writeFileSync(join(folder, 'FROZEN'), manifest(folder).replace('hooks.js', 'hooks.js ') );
    outcomes.push(['FROZEN rewritten', check(folder, original).length > 0]);
    const wrong = outcomes.filter(([, ok]) => !ok).map(([name]) => name);
    console.log(wrong.length === 0 ? `contract freeze self-test: ${outcomes.length} cases behaved` : `contract freeze self-test FAILED: ${wrong.join(', ')}`);
    process.exit(wrong.length === 0 ? 0 : 1);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
} else {
  const versions = deprecatedVersions();
  if (versions.length === 0) {
    console.log('contract freeze: no API version is deprecated in the spec (info.x-versions); nothing is frozen');
    process.exit(0);
  }
  let failures = 0;
  for (const version of versions) {
    const relativePath = `tests/contracts/${version}/FROZEN`;
    const written = frozenAsCommitted(relativePath) ?? (existsSync(join(root, relativePath)) ? readFileSync(join(root, relativePath), 'utf8').split('\n').filter((l) => !sunsetLine.test(l)).join('\n') : '');
    const problems = check(join(root, 'tests', 'contracts', version), written);
    if (problems.length) {
      failures++;
      console.error(`contract freeze: ${version} is deprecated and its contract tests are frozen:\n  ${problems.join('\n  ')}`);
    } else {
      console.log(`contract freeze: ${version} is frozen and unchanged`);
    }
  }
  process.exit(failures === 0 ? 0 : 1);
}
