// Schemathesis through Docker (the Python package index is not reachable here, so the image is
// the only way to run it): property-based and stateful tests from the spec against the service,
// signed in as a seeded organisation's owner. The build runs this only when a Docker engine
// answers; elsewhere the Schemathesis target reports that it was skipped.
//
//   node tools/gates/schemathesis.mjs --dll <Canopy.Api.dll>
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { required, serviceEnvironment, requireFreePort, startService, waitReady, seedOrganisation } from './service.mjs';

const args = process.argv.slice(2);
const option = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const root = process.cwd();
const baseUrl = `http://127.0.0.1:${Number(required('CANOPY_TEST_HTTP_PORT')) + 4}`;
const outDir = join(root, 'artifacts', 'schemathesis');
mkdirSync(outDir, { recursive: true });

let service;
try {
  await requireFreePort(baseUrl);
  service = startService(option('--dll'), baseUrl, serviceEnvironment());
  await waitReady(service, `${baseUrl}/health/ready`);
  const { token } = await seedOrganisation(baseUrl);
  const run = spawnSync('docker', [
    'run', '--rm', '--network', 'host',
    '-v', `${join(root, '.openapi')}:/spec:ro`, '-v', `${outDir}:/out`,
    'schemathesis/schemathesis:stable', 'run', '/spec/api.yaml',
    '--url', baseUrl, '--header', `Authorization: Bearer ${token}`,
    '--checks', 'all', '--max-examples', '25', '--report', 'junit', '--report-dir', '/out',
  ], { stdio: 'inherit' });
  service.stop();
  process.exit(run.status === 0 ? 0 : 1);
} catch (err) {
  console.error(`schemathesis gate: ${err.message}`);
  service?.stop();
  process.exit(1);
}
