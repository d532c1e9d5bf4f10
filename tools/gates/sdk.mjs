// SDK consumers: against the built service, a C# program restores the packed Canopy.Client from
// the local feed (artifacts/packages) and runs a real flow; the TypeScript client is compiled
// with a consumer program and run with node. Either failing fails the gate.
//
//   node tools/gates/sdk.mjs --dll <Canopy.Api.dll> --version <info.version>
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { required, serviceEnvironment, requireFreePort, startService, waitReady } from './service.mjs';

const args = process.argv.slice(2);
const option = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const root = process.cwd();
const version = option('--version');
const baseUrl = `http://127.0.0.1:${Number(required('CANOPY_TEST_HTTP_PORT')) + 2}`;
const feed = join(root, 'artifacts', 'packages');
const packages = join(root, 'artifacts', 'sdk', 'nuget-packages');
const tsOut = join(root, 'artifacts', 'sdk', 'typescript');

function run(what, command, commandArgs) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit', env: process.env });
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status ?? result.signal})`);
}

if (!version || !existsSync(join(feed, `Canopy.Client.${version}.nupkg`))) {
  console.error(`sdk gate: ${join(feed, `Canopy.Client.${version}.nupkg`)} is missing: run the Pack target first`);
  process.exit(1);
}

let service;
try {
  await requireFreePort(baseUrl);
  service = startService(option('--dll'), baseUrl, serviceEnvironment());
  await waitReady(service, `${baseUrl}/health/ready`);

  // A package folder of its own: the freshly packed client, never one cached by an earlier run.
  rmSync(packages, { recursive: true, force: true });
  run('the C# SDK consumer', 'dotnet', [
    'run', '--project', join(root, 'tests', 'sdk', 'csharp', 'Canopy.Sdk.Consumer.csproj'), '-c', 'Release',
    `-p:CanopyClientVersion=${version}`, `-p:RestoreAdditionalProjectSources=${feed}`, `-p:RestorePackagesPath=${packages}`,
    '--', baseUrl,
  ]);

  rmSync(tsOut, { recursive: true, force: true });
  run('compiling the TypeScript consumer', process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tests', 'sdk', 'typescript', 'tsconfig.json')]);
  run('the TypeScript SDK consumer', process.execPath, [join(tsOut, 'tests', 'sdk', 'typescript', 'consumer.js'), baseUrl]);
  service.stop();
  process.exit(0);
} catch (err) {
  console.error(`sdk gate: ${err.message}`);
  service?.stop();
  process.exit(1);
}
