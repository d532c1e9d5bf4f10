// How the contract run provokes each documented status of the Fleet operations. Every
// transaction that changes something gets its own farm, zone or device, made through the API
// by the organisation's owner, so no transaction depends on another's leftovers.
'use strict';

const crypto = require('node:crypto');
const { setup, limited, unavailable, noFault, bearer, fresh, path } = require('./identity');

const exampleFarm = '0193a0c4-9000-7000-8000-000000000001';
const exampleZone = '0193a0c4-9100-7000-8000-000000000001';
const exampleDevice = '0193a0c4-9200-7000-8000-000000000001';
const inFlight = 'An Idempotency-Key in flight needs two requests with the same key at the same moment; IdempotencyTests cover that 409 on every idempotent operation.';

async function request(t, method, route, { body, token, ifMatch, idempotent } = {}) {
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` };
  if (ifMatch) headers['If-Match'] = ifMatch;
  if (idempotent) headers['Idempotency-Key'] = crypto.randomUUID();
  const response = await fetch(`http://${t.host}:${t.port}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

const unique = (what) => `${what} ${crypto.randomUUID().slice(0, 8)}`;
const serial = () => `CT-${crypto.randomUUID().slice(0, 12).toUpperCase()}`;

async function owner(t) { return (await setup(t)).owner.access; }
async function newFarm(t, name = unique('Farm')) {
  return request(t, 'POST', '/api/v1/farms', { token: await owner(t), idempotent: true, body: { name, latitude: 52.09, longitude: 5.12, time_zone: 'Europe/Amsterdam' } });
}
async function newZone(t, farmId, name = unique('Zone')) {
  farmId ??= (await newFarm(t)).id;
  return request(t, 'POST', `/api/v1/farms/${farmId}/zones`, { token: await owner(t), idempotent: true, body: { name, kind: 'greenhouse' } });
}
async function newDevice(t, zoneId) {
  zoneId ??= (await newZone(t)).id;
  return (await request(t, 'POST', '/api/v1/devices', { token: await owner(t), idempotent: true, body: { serial_number: serial(), model: 'sensirion-scd41', zone_id: zoneId } })).device;
}
async function verb(t, device, name, body) {
  return request(t, 'POST', `/api/v1/devices/${device.id}/${name}`, { token: await owner(t), ifMatch: `"${device.version}"`, idempotent: true, body });
}
async function activeDevice(t) { return verb(t, await newDevice(t), 'activate'); }
async function faultyDevice(t) { return verb(t, await activeDevice(t), 'report-fault', { code: 'other', note: 'Contract fault' }); }

const json = (t, body) => { t.request.body = JSON.stringify(body); t.request.headers['Content-Type'] = 'application/json'; };
const plainText = (t) => { t.request.headers['Content-Type'] = 'text/plain'; };
const header = (t, name, value) => {
  for (const key of Object.keys(t.request.headers)) if (key.toLowerCase() === name.toLowerCase()) delete t.request.headers[key];
  if (value !== undefined) t.request.headers[name] = value;
};
const ifMatch = (t, version) => header(t, 'If-Match', version === undefined ? undefined : `"${version}"`);
const to = (t, example, id) => path(t, t.fullPath.replace(example, id));
const asOwner = async (t) => bearer(t, await owner(t));
const asViewer = async (t) => bearer(t, (await setup(t)).viewer.access);

// The statuses every operation on one resource shares: a malformed id, no token, an unknown id.
function common(route, example, { critical = false, tier = 'standard', viewerForbidden = true } = {}) {
  return {
    [`${route} 400`]: { provoke: async (t) => { await asOwner(t); to(t, example, 'not-a-uuid'); fresh(t); } },
    [`${route} 401`]: { provoke: fresh },
    ...(viewerForbidden ? { [`${route} 403`]: { provoke: async (t) => { await asViewer(t); fresh(t); } } } : {}),
    [`${route} 404`]: { provoke: async (t) => { await asOwner(t); path(t, t.fullPath.split('?')[0].replace(example, crypto.randomUUID())); fresh(t); } },
    [`${route} 429`]: limited(critical ? 'critical' : tier, true),
    [`${route} 500`]: { skip: noFault },
    [`${route} 503`]: unavailable,
  };
}

// The statuses of a guarded change: 412 for a stale ETag, 428 for none.
function guarded(route, example, make) {
  return {
    [`${route} 412`]: { provoke: async (t) => { await asOwner(t); to(t, example, (await make(t)).id); ifMatch(t, 999); fresh(t); } },
    [`${route} 428`]: { provoke: async (t) => { await asOwner(t); to(t, example, (await make(t)).id); ifMatch(t); fresh(t); } },
  };
}

// A verb on a device: the device made by `make`, its current ETag in If-Match, and the body.
const onDevice = (make, body) => async (t) => {
  await asOwner(t);
  const device = await make(t);
  to(t, exampleDevice, device.id);
  ifMatch(t, device.version);
  if (body) json(t, body);
  fresh(t);
};

const read = (example, make) => ({
  200: { provoke: async (t) => { await asOwner(t); to(t, example, (await make(t)).id); header(t, 'If-None-Match'); } },
  304: { provoke: async (t) => { await asOwner(t); const made = await make(t); to(t, example, made.id); header(t, 'If-None-Match', `"${made.version}"`); } },
});

const farm = '/api/v1/farms/{farm_id}';
const zone = '/api/v1/zones/{zone_id}';
const device = '/api/v1/devices/{device_id}';
const farmRead = read(exampleFarm, (t) => newFarm(t));
const zoneRead = read(exampleZone, (t) => newZone(t));
const deviceRead = read(exampleDevice, (t) => newDevice(t));

const plan = {
  'POST /api/v1/farms 201': { provoke: async (t) => { await asOwner(t); json(t, { name: unique('Farm'), latitude: 52.09, longitude: 5.12, time_zone: 'Europe/Amsterdam', area_ha: 2 }); } },
  'POST /api/v1/farms 400': { provoke: async (t) => { await asOwner(t); header(t, 'Idempotency-Key'); } },
  'POST /api/v1/farms 401': { provoke: () => {} },
  'POST /api/v1/farms 403': { provoke: async (t) => { await asViewer(t); json(t, { name: unique('Farm'), latitude: 1, longitude: 1, time_zone: 'UTC' }); } },
  'POST /api/v1/farms 409': { provoke: async (t) => { await asOwner(t); json(t, { name: (await newFarm(t)).name, latitude: 1, longitude: 1, time_zone: 'UTC' }); } },
  'POST /api/v1/farms 415': { provoke: async (t) => { await asOwner(t); plainText(t); } },
  'POST /api/v1/farms 422': { provoke: async (t) => { await asOwner(t); json(t, { name: unique('Farm'), latitude: 91, longitude: 1, time_zone: 'UTC' }); } },
  'POST /api/v1/farms 429': limited('standard', true),
  'POST /api/v1/farms 500': { skip: noFault },
  'POST /api/v1/farms 503': unavailable,

  'GET /api/v1/farms 200': { provoke: async (t) => { await asOwner(t); await newFarm(t); path(t, '/api/v1/farms?limit=2'); } },
  'GET /api/v1/farms 400': { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/farms?limit=201'); } },
  'GET /api/v1/farms 401': { provoke: () => {} },
  'GET /api/v1/farms 429': limited('standard', true),
  'GET /api/v1/farms 500': { skip: noFault },
  'GET /api/v1/farms 503': unavailable,

  [`GET ${farm} 200`]: farmRead[200],
  [`GET ${farm} 304`]: farmRead[304],
  ...common(`GET ${farm}`, exampleFarm, { viewerForbidden: false }),

  [`POST ${farm}/rename 200`]: { provoke: async (t) => { await asOwner(t); to(t, exampleFarm, (await newFarm(t)).id); ifMatch(t, 1); json(t, { name: unique('Renamed') }); } },
  ...common(`POST ${farm}/rename`, exampleFarm),
  [`POST ${farm}/rename 409`]: {
    provoke: async (t) => { await asOwner(t); const taken = await newFarm(t); to(t, exampleFarm, (await newFarm(t)).id); ifMatch(t, 1); json(t, { name: taken.name }); },
  },
  ...guarded(`POST ${farm}/rename`, exampleFarm, (t) => newFarm(t)),
  [`POST ${farm}/rename 415`]: { provoke: async (t) => { await asOwner(t); to(t, exampleFarm, (await newFarm(t)).id); ifMatch(t, 1); plainText(t); } },
  [`POST ${farm}/rename 422`]: { provoke: async (t) => { await asOwner(t); to(t, exampleFarm, (await newFarm(t)).id); ifMatch(t, 1); json(t, { name: '' }); } },

  [`POST ${farm}/archive 204`]: { provoke: async (t) => { await asOwner(t); to(t, exampleFarm, (await newFarm(t)).id); ifMatch(t, 1); } },
  ...common(`POST ${farm}/archive`, exampleFarm, { critical: true }),
  [`POST ${farm}/archive 409`]: {
    provoke: async (t) => { await asOwner(t); const hosting = await newFarm(t); await newDevice(t, (await newZone(t, hosting.id)).id); to(t, exampleFarm, hosting.id); ifMatch(t, 1); },
  },
  ...guarded(`POST ${farm}/archive`, exampleFarm, (t) => newFarm(t)),

  [`POST ${farm}/zones 201`]: { provoke: async (t) => { await asOwner(t); to(t, exampleFarm, (await newFarm(t)).id); json(t, { name: unique('Zone'), kind: 'nursery' }); } },
  [`POST ${farm}/zones 400`]: { provoke: async (t) => { await asOwner(t); to(t, exampleFarm, (await newFarm(t)).id); header(t, 'Idempotency-Key'); } },
  [`POST ${farm}/zones 401`]: { provoke: () => {} },
  [`POST ${farm}/zones 403`]: { provoke: asViewer },
  [`POST ${farm}/zones 404`]: { provoke: async (t) => { await asOwner(t); to(t, exampleFarm, crypto.randomUUID()); json(t, { name: unique('Zone'), kind: 'field' }); } },
  [`POST ${farm}/zones 409`]: {
    provoke: async (t) => { await asOwner(t); const taken = await newZone(t); to(t, exampleFarm, taken.farm_id); json(t, { name: taken.name, kind: 'field' }); },
  },
  [`POST ${farm}/zones 415`]: { provoke: async (t) => { await asOwner(t); to(t, exampleFarm, (await newFarm(t)).id); plainText(t); } },
  [`POST ${farm}/zones 422`]: {
    provoke: async (t) => { await asOwner(t); to(t, exampleFarm, (await newFarm(t)).id); json(t, { name: unique('Zone'), kind: 'field', targets: { co2_ppm: { min: 900, max: 400 } } }); },
  },
  [`POST ${farm}/zones 429`]: limited('standard', true),
  [`POST ${farm}/zones 500`]: { skip: noFault },
  [`POST ${farm}/zones 503`]: unavailable,

  [`GET ${farm}/zones 200`]: { provoke: async (t) => { await asOwner(t); const made = await newZone(t); path(t, `/api/v1/farms/${made.farm_id}/zones?limit=5`); } },
  ...common(`GET ${farm}/zones`, exampleFarm, { viewerForbidden: false }),

  [`GET ${zone} 200`]: zoneRead[200],
  [`GET ${zone} 304`]: zoneRead[304],
  ...common(`GET ${zone}`, exampleZone, { viewerForbidden: false }),

  [`POST ${zone}/set-targets 200`]: {
    provoke: async (t) => { await asOwner(t); to(t, exampleZone, (await newZone(t)).id); ifMatch(t, 1); json(t, { targets: { temperature_c: { min: 19, max: 25 } } }); },
  },
  ...common(`POST ${zone}/set-targets`, exampleZone),
  [`POST ${zone}/set-targets 409`]: { skip: inFlight },
  ...guarded(`POST ${zone}/set-targets`, exampleZone, (t) => newZone(t)),
  [`POST ${zone}/set-targets 415`]: { provoke: async (t) => { await asOwner(t); to(t, exampleZone, (await newZone(t)).id); ifMatch(t, 1); plainText(t); } },
  [`POST ${zone}/set-targets 422`]: {
    provoke: async (t) => { await asOwner(t); to(t, exampleZone, (await newZone(t)).id); ifMatch(t, 1); json(t, { targets: { humidity_pct: { min: 10, max: 120 } } }); },
  },

  [`POST ${zone}/archive 204`]: { provoke: async (t) => { await asOwner(t); to(t, exampleZone, (await newZone(t)).id); ifMatch(t, 1); } },
  ...common(`POST ${zone}/archive`, exampleZone, { critical: true }),
  [`POST ${zone}/archive 409`]: { provoke: async (t) => { await asOwner(t); const hosting = await newZone(t); await newDevice(t, hosting.id); to(t, exampleZone, hosting.id); ifMatch(t, 1); } },
  ...guarded(`POST ${zone}/archive`, exampleZone, (t) => newZone(t)),

  'GET /api/v1/device-models 200': { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/device-models?limit=3'); } },
  'GET /api/v1/device-models 400': { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/device-models?cursor=forged.cursor'); } },
  'GET /api/v1/device-models 401': { provoke: () => {} },
  'GET /api/v1/device-models 429': limited('standard', true),
  'GET /api/v1/device-models 500': { skip: noFault },
  'GET /api/v1/device-models 503': unavailable,

  'POST /api/v1/devices 201': { provoke: async (t) => { await asOwner(t); json(t, { serial_number: serial(), model: 'meter-teros-12', zone_id: (await newZone(t)).id }); } },
  'POST /api/v1/devices 400': { provoke: async (t) => { await asOwner(t); header(t, 'Idempotency-Key'); } },
  'POST /api/v1/devices 401': { provoke: () => {} },
  'POST /api/v1/devices 403': { provoke: asViewer },
  'POST /api/v1/devices 404': { provoke: async (t) => { await asOwner(t); json(t, { serial_number: serial(), model: 'sensirion-scd41', zone_id: crypto.randomUUID() }); } },
  'POST /api/v1/devices 409': {
    provoke: async (t) => { await asOwner(t); const taken = await newDevice(t); json(t, { serial_number: taken.serial_number, model: 'sensirion-scd41', zone_id: taken.zone_id }); },
  },
  'POST /api/v1/devices 415': { provoke: async (t) => { await asOwner(t); plainText(t); } },
  'POST /api/v1/devices 422': { provoke: async (t) => { await asOwner(t); json(t, { serial_number: serial(), model: 'no-such-model', zone_id: (await newZone(t)).id }); } },
  'POST /api/v1/devices 429': limited('standard', true),
  'POST /api/v1/devices 500': { skip: noFault },
  'POST /api/v1/devices 503': unavailable,

  'GET /api/v1/devices 200': { provoke: async (t) => { await asOwner(t); const made = await activeDevice(t); path(t, `/api/v1/devices?status=ACTIVE&zone_id=${made.zone_id}&limit=10`); } },
  'GET /api/v1/devices 400': { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/devices?status=SLEEPING'); } },
  'GET /api/v1/devices 401': { provoke: () => {} },
  'GET /api/v1/devices 429': limited('standard', true),
  'GET /api/v1/devices 500': { skip: noFault },
  'GET /api/v1/devices 503': unavailable,

  [`GET ${device} 200`]: deviceRead[200],
  [`GET ${device} 304`]: deviceRead[304],
  ...common(`GET ${device}`, exampleDevice, { viewerForbidden: false }),
};

// The verbs: the state each starts from, its body, and a state that refuses it (409).
const verbs = [
  { name: 'activate', from: (t) => newDevice(t), refusedFrom: (t) => activeDevice(t) },
  { name: 'report-fault', from: (t) => activeDevice(t), refusedFrom: (t) => newDevice(t), body: { code: 'battery_low', note: 'Reads 3.1 V' }, invalid: { code: 'battery_low' } },
  { name: 'clear-fault', from: (t) => faultyDevice(t), refusedFrom: (t) => activeDevice(t) },
  { name: 'move', from: (t) => activeDevice(t), refusedFrom: async (t) => verb(t, await newDevice(t), 'decommission'), body: 'zone', invalid: {} },
  { name: 'decommission', from: (t) => faultyDevice(t), refusedFrom: async (t) => verb(t, await newDevice(t), 'decommission'), critical: true },
  { name: 'rotate-credential', from: (t) => activeDevice(t), refusedFrom: async (t) => verb(t, await newDevice(t), 'decommission'), critical: true },
];

for (const v of verbs) {
  const route = `POST ${device}/${v.name}`;
  const bodyFor = async (t) => (v.body === 'zone' ? { zone_id: (await newZone(t)).id } : v.body);
  plan[`${route} 200`] = { provoke: async (t) => onDevice(v.from, await bodyFor(t))(t) };
  Object.assign(plan, common(route, exampleDevice, { critical: v.critical }));
  plan[`${route} 409`] = { provoke: async (t) => onDevice(v.refusedFrom, await bodyFor(t))(t) };
  Object.assign(plan, guarded(route, exampleDevice, (t) => newDevice(t)));
  if (v.critical) {
    plan[`${route} 400`] = { provoke: async (t) => { await onDevice(v.from)(t); header(t, 'Idempotency-Key'); } };
  }
  if (v.body) {
    plan[`${route} 415`] = { provoke: async (t) => { await onDevice(v.from)(t); plainText(t); } };
    plan[`${route} 422`] = { provoke: async (t) => onDevice(v.from, v.invalid)(t) };
  }
}

// The helpers other modules' plans build their resources with.
const helpers = { request, owner, newZone, newDevice, faultyDevice, json, plainText, header, ifMatch, to, asOwner, asViewer, common, guarded, read, unique, inFlight };

module.exports = { plan, helpers };
