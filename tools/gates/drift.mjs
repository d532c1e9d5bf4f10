// Drift gate: regenerates every NSwag output from the committed spec into a scratch folder and
// compares it byte for byte with the committed generated/ folder.
//
//   node tools/gates/drift.mjs             fail when generated/ differs from what the spec gives
//   node tools/gates/drift.mjs --selftest  prove the gate fails on a spec edit without
//                                          regeneration and on a hand-edited generated file
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = process.cwd();
const contracts = join(root, 'src', 'Canopy.Contracts', 'Canopy.Contracts.csproj');
const committed = join(root, 'generated');
const scratch = join(root, 'artifacts', 'drift');

// The build's own generation target (NSwag.MSBuild, tools/nswag/Canopy.Generation.targets), pointed
// at another spec and folder: the gate cannot drift from what a build writes.
function generate(spec, outDir) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  try {
    execFileSync('dotnet', ['msbuild', contracts, '-restore', '-t:CanopyGenerate', '-nologo', '-v:m',
      `-p:CanopySpec=${spec}`, `-p:CanopyOutDir=${outDir}`], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  } catch (err) {
    // NSwag reports a bad spec on standard output.
    console.error(`drift: generation from ${relative(root, spec)} failed:\n${err.stdout ?? ''}`);
    process.exit(1);
  }
}

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** Lines describing each difference between two generated trees; empty when identical. */
function compare(expectedDir, actualDir) {
  const expected = files(expectedDir);
  const actual = files(actualDir);
  const out = [];
  for (const f of expected) {
    if (!actual.includes(f)) out.push(`missing in generated/: ${f}`);
    else if (!readFileSync(join(expectedDir, f)).equals(readFileSync(join(actualDir, f)))) out.push(`differs from the spec's output: generated/${f}`);
  }
  for (const f of actual) if (!expected.includes(f)) out.push(`not produced by the spec: generated/${f}`);
  return out;
}

if (!process.argv.includes('--selftest')) {
  generate(join(root, '.openapi', 'api.yaml'), join(scratch, 'fresh'));
  const differences = compare(join(scratch, 'fresh'), committed);
  if (differences.length) {
    console.error(`drift: generated/ does not match .openapi/api.yaml:\n  ${differences.join('\n  ')}\n` +
      'Never edit generated/ by hand. Run ./build.sh --target=Generate (or any build) and commit generated/ with the spec change.');
    process.exit(1);
  }
  console.log(`drift: generated/ matches .openapi/api.yaml (${files(committed).length} files)`);
  process.exit(0);
}

// Self-test 1: the spec changes, generated/ does not.
let failures = 0;
const editedSpec = join(scratch, 'edited-api.yaml');
mkdirSync(scratch, { recursive: true });
writeFileSync(editedSpec, readFileSync(join(root, '.openapi', 'api.yaml'), 'utf8')
  .replace('summary: Tell whether the process is alive', 'summary: Tell whether the process is alive (edited)'));
generate(editedSpec, join(scratch, 'edited'));
const afterSpecEdit = compare(join(scratch, 'edited'), committed);
if (afterSpecEdit.length === 0) { failures++; console.error('drift self-test: a spec edit without regeneration was NOT detected'); }
else console.log(`drift self-test: a spec edit without regeneration is detected (${afterSpecEdit.join('; ')})`);

// Self-test 2: a generated file is edited by hand.
const handEdited = join(scratch, 'hand-edited');
rmSync(handEdited, { recursive: true, force: true });
cpSync(committed, handEdited, { recursive: true });
appendFileSync(join(handEdited, 'server', 'Canopy.Contracts.g.cs'), '\n// a hand edit\n');
generate(join(root, '.openapi', 'api.yaml'), join(scratch, 'fresh'));
const afterHandEdit = compare(join(scratch, 'fresh'), handEdited);
if (afterHandEdit.length === 0) { failures++; console.error('drift self-test: a hand edit in generated/ was NOT detected'); }
else console.log(`drift self-test: a hand edit is detected (${afterHandEdit.join('; ')})`);

process.exit(failures === 0 ? 0 : 1);
