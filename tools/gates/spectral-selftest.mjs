// Proves that every Canopy Spectral rule fires: the real spec plus a valid sample /api/ slice
// must lint clean, and each mutation below (one broken rule each) must fail with exactly that
// rule's code. Run by ./build.sh --target=Lint.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';

const root = process.cwd();
const workDir = join(root, 'artifacts', 'spectral-selftest');
mkdirSync(workDir, { recursive: true });
const base = yaml.load(readFileSync(join(root, '.openapi', 'api.yaml'), 'utf8'));

const problemRefs = {
  '400': { $ref: '#/components/responses/BadRequest' },
  '500': { $ref: '#/components/responses/InternalServerError' },
  '503': { $ref: '#/components/responses/ServiceUnavailable' },
};

// A small, valid slice of a versioned API: a list and a create with idempotency.
function withSampleApi(spec) {
  spec.tags.push({ name: 'Samples', description: 'Sample operations for the rule self-test.' });
  spec.components.schemas.Sample = {
    type: 'object',
    required: ['id', 'display_name'],
    properties: {
      id: { type: 'string', format: 'uuid', example: '0193a0c4-8a1e-7c4e-9a55-2b8f0f7c1d42' },
      display_name: { type: 'string', example: 'North greenhouse' },
    },
  };
  spec.components.schemas.NewSample = {
    type: 'object',
    additionalProperties: false,
    required: ['display_name'],
    properties: {
      display_name: { type: 'string', example: 'North greenhouse' },
      location: {
        type: 'object',
        additionalProperties: false,
        properties: { latitude: { type: 'number', example: 52.1 } },
      },
    },
  };
  spec.components.schemas.SamplePage = {
    type: 'object',
    required: ['data', 'next_cursor', 'has_more'],
    properties: {
      data: { type: 'array', items: { $ref: '#/components/schemas/Sample' } },
      next_cursor: { type: 'string', nullable: true, example: null },
      has_more: { type: 'boolean', example: false },
    },
  };
  const sample = { id: '0193a0c4-8a1e-7c4e-9a55-2b8f0f7c1d42', display_name: 'North greenhouse' };
  spec.paths['/api/v1/sample-things'] = {
    get: {
      operationId: 'listSampleThings',
      summary: 'List sample things',
      tags: ['Samples'],
      security: [{ bearer: [] }],
      'x-rate-limit-tier': 'standard',
      'x-roles': 'viewer',
      parameters: [{ $ref: '#/components/parameters/Cursor' }, { $ref: '#/components/parameters/Limit' }],
      responses: {
        '200': {
          description: 'A page.',
          content: {
            'application/json': {
              schema: { $ref: '#/components/schemas/SamplePage' },
              example: { data: [sample], next_cursor: null, has_more: false },
            },
          },
        },
        ...problemRefs,
      },
    },
    post: {
      operationId: 'createSampleThing',
      summary: 'Create a sample thing',
      tags: ['Samples'],
      security: [{ bearer: [] }],
      'x-rate-limit-tier': 'standard',
      'x-idempotency': 'required',
      'x-roles': 'admin',
      parameters: [{ $ref: '#/components/parameters/IdempotencyKey' }],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: { $ref: '#/components/schemas/NewSample' },
            example: { display_name: 'North greenhouse' },
          },
        },
      },
      responses: {
        '201': {
          description: 'Created.',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Sample' }, example: sample } },
        },
        ...problemRefs,
        '413': { $ref: '#/components/responses/PayloadTooLarge' },
      },
    },
  };
  return spec;
}

const list = (s) => s.paths['/api/v1/sample-things'].get;
const create = (s) => s.paths['/api/v1/sample-things'].post;

const cases = [
  ['operation-operationId', (s) => delete list(s).operationId],
  ['canopy-operation-summary', (s) => delete list(s).summary],
  ['operation-tags', (s) => delete list(s).tags],
  ['canopy-versioned-path', (s) => { s.paths['/sample-things'] = s.paths['/api/v1/sample-things']; delete s.paths['/api/v1/sample-things']; }],
  ['canopy-kebab-case-path', (s) => { s.paths['/api/v1/sampleThings'] = s.paths['/api/v1/sample-things']; delete s.paths['/api/v1/sample-things']; }],
  ['canopy-snake-case-property', (s) => { s.components.schemas.Sample.properties.displayName = { type: 'string' }; }],
  ['canopy-snake-case-query-parameter', (s) => list(s).parameters.push({ name: 'zoneId', in: 'query', schema: { type: 'string' } })],
  ['canopy-client-error-response', (s) => delete list(s).responses['400']],
  ['canopy-server-error-response', (s) => { delete list(s).responses['500']; delete list(s).responses['503']; }],
  ['canopy-server-error-response', (s) => delete s.paths['/health/live'].get.responses['500']],
  ['canopy-problem-json-errors', (s) => { list(s).responses['400'] = { description: 'Bad.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Problem' }, example: base.components.responses.BadRequest.content['application/problem+json'].example } } }; }],
  ['canopy-problem-json-errors', (s) => { s.paths['/health/ready'].get.responses['500'] = { description: 'Bad.', content: { 'application/json': { schema: { type: 'string' }, example: 'boom' } } }; }],
  ['canopy-request-example', (s) => delete create(s).requestBody.content['application/json'].example],
  ['canopy-body-too-large', (s) => delete create(s).responses['413']],
  ['canopy-response-example', (s) => delete list(s).responses['200'].content['application/json'].example],
  ['oas3-valid-media-example', (s) => { list(s).responses['200'].content['application/json'].example = { data: 'not an array', next_cursor: null, has_more: false }; }],
  ['canopy-security-declared', (s) => delete list(s).security],
  ['canopy-rate-limit-tier', (s) => delete list(s)['x-rate-limit-tier']],
  ['canopy-rate-limit-tier', (s) => { list(s)['x-rate-limit-tier'] = 'premium'; }],
  ['canopy-roles-declared', (s) => delete list(s)['x-roles']],
  ['canopy-roles-declared', (s) => { list(s)['x-roles'] = 'superuser'; }],
  ['canopy-roles-match-security', (s) => { list(s)['x-roles'] = 'public'; }],
  ['canopy-roles-match-security', (s) => { list(s).security = []; }],
  ['canopy-authenticated-unavailable', (s) => delete list(s).responses['503']],
  ['canopy-deprecation-dated', (s) => { list(s).deprecated = true; }],
  ['canopy-deprecation-dated', (s) => { list(s).deprecated = true; list(s)['x-deprecated-at'] = 'last week'; list(s)['x-sunset'] = '2027-05-01T00:00:00Z'; }],
  ['canopy-idempotency-declared', (s) => delete create(s)['x-idempotency']],
  ['canopy-idempotency-declared', (s) => { create(s)['x-idempotency'] = 'sometimes'; }],
  ['canopy-idempotency-header', (s) => { create(s).parameters = []; }],
  ['canopy-idempotency-header', (s) => { create(s)['x-idempotency'] = 'optional'; }],
  ['canopy-cursor-pagination', (s) => { list(s).parameters = [{ $ref: '#/components/parameters/Limit' }]; }],
  ['canopy-cursor-pagination', (s) => { delete s.components.schemas.SamplePage.properties.has_more; s.components.schemas.SamplePage.required = ['data', 'next_cursor']; }],
  // Not named list…, but it takes a cursor: it is paged all the same.
  ['canopy-cursor-pagination', (s) => { list(s).operationId = 'browseSampleThings'; list(s).parameters = [{ $ref: '#/components/parameters/Cursor' }]; }],
  ['canopy-no-oneof', (s) => { s.components.schemas.Sample.properties.id = { oneOf: [{ type: 'string' }, { type: 'integer' }] }; }],
  ['canopy-no-anyof', (s) => { s.components.schemas.Sample.properties.id = { anyOf: [{ type: 'string' }, { type: 'integer' }] }; }],
  ['canopy-closed-request-body', (s) => delete s.components.schemas.NewSample.additionalProperties],
  ['canopy-closed-request-body', (s) => delete s.components.schemas.NewSample.properties.location.additionalProperties],
  ['canopy-closed-request-body', (s) => { create(s).requestBody.content['application/json'].schema = { allOf: [{ $ref: '#/components/schemas/NewSample' }] }; }],
  ['canopy-idempotency-header', (s) => { create(s)['x-idempotency'] = 'none'; s.paths['/api/v1/sample-things'].parameters = create(s).parameters; create(s).parameters = []; }],
];

function writeSpec(spec, name) {
  const file = join(workDir, `${name}.yaml`);
  writeFileSync(file, yaml.dump(spec, { noRefs: true, lineWidth: -1 }));
  return file;
}

// One Spectral run over every file keeps the self-test to a couple of seconds.
const files = [writeSpec(withSampleApi(structuredClone(base)), 'clean')];
cases.forEach(([rule, mutate], i) => {
  const spec = withSampleApi(structuredClone(base));
  mutate(spec);
  files.push(writeSpec(spec, `case-${String(i).padStart(2, '0')}-${rule}`));
});

let output;
try {
  output = execFileSync('npx', ['spectral', 'lint', '--ruleset', 'spectral.yaml', '-f', 'json', '--quiet', ...files], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024,
  });
} catch (err) {
  output = err.stdout;
}
const results = JSON.parse(output || '[]');
const errorsIn = (file) => results.filter((r) => r.severity === 0 && r.source === file);

let failures = 0;
const cleanErrors = errorsIn(files[0]);
if (cleanErrors.length > 0) {
  failures++;
  console.error('FAIL the spec with a valid sample slice has errors:', cleanErrors.map((r) => `${r.code} ${r.path.join('.')}`));
} else {
  console.log('ok   the spec with a valid sample slice lints clean');
}
cases.forEach(([rule], i) => {
  const codes = [...new Set(errorsIn(files[i + 1]).map((r) => r.code))];
  if (codes.includes(rule)) {
    console.log(`ok   ${rule} fires (case ${i})`);
  } else {
    failures++;
    console.error(`FAIL ${rule} did not fire (case ${i}); errors: ${codes.join(', ') || 'none'}`);
  }
});

console.log(`spectral self-test: ${cases.length + 1 - failures} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
