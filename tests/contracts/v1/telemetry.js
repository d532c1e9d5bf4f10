// How the contract run provokes each documented status of the Telemetry operations. Every
// transaction gets its own device, registered and activated through the API by the
// organisation's owner, and its own device token.
'use strict';

const crypto = require('node:crypto');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { setup, limited, unavailable, noFault, bearer, path } = require('./identity');

const run = promisify(execFile);
const env = process.env;
const exampleDevice = '0193a0c4-9200-7000-8000-000000000001';
const streamNeverEnds = 'A 200 event stream stays open until the client leaves, so a transaction that waits for the whole body never ends; StreamTests (integration) read its events on real Kestrel.';
const busy = 'Back-pressure needs the database held while every ingestion turn is taken; IngestionTests provoke this 503 with the device row locked and one turn.';

async function request(t, method, route, { body, token, idempotent } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (idempotent) headers['Idempotency-Key'] = crypto.randomUUID();
  const response = await fetch(`http://${t.host}:${t.port}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

// A registered, activated device of the contract organisation, its secret and a device token.
async function sender(t, { activate = true } = {}) {
  const owner = (await setup(t)).owner.access;
  const farm = await request(t, 'POST', '/api/v1/farms', { token: owner, idempotent: true, body: { name: `Farm ${crypto.randomUUID().slice(0, 8)}`, latitude: 52, longitude: 5, time_zone: 'UTC' } });
  const zone = await request(t, 'POST', `/api/v1/farms/${farm.id}/zones`, { token: owner, idempotent: true, body: { name: 'Zone', kind: 'greenhouse' } });
  const registered = await request(t, 'POST', '/api/v1/devices', {
    token: owner, idempotent: true, body: { serial_number: `CT-${crypto.randomUUID().slice(0, 12).toUpperCase()}`, model: 'sensirion-scd41', zone_id: zone.id },
  });
  const id = registered.device.id;
  if (activate) await fetch(`http://${t.host}:${t.port}/api/v1/devices/${id}/activate`, { method: 'POST', headers: { Authorization: `Bearer ${owner}`, 'If-Match': '"1"' } });
  const token = (await request(t, 'POST', '/api/v1/device-tokens', { body: { device_id: id, credential: registered.credential.secret } })).access_token;
  return { id, zone: zone.id, secret: registered.credential.secret, token, owner };
}

const json = (t, body) => { t.request.body = JSON.stringify(body); t.request.headers['Content-Type'] = 'application/json'; };
const plainText = (t) => { t.request.headers['Content-Type'] = 'text/plain'; };
const now = () => new Date(Date.now() - 60000).toISOString();
const readings = (value = 21.5) => ({ readings: [{ metric: 'temperature_c', value, recorded_at: now() }] });

// A device's ingestion quota marked used up (the key RateLimitKeys derives), emptied after.
function ingestionLimited() {
  let key;
  const redis = (...args) => run('redis-cli', ['-h', '127.0.0.1', '-p', env.CANOPY_CONTRACT_REDIS_PORT, ...args], {
    env: { ...env, REDISCLI_AUTH: env.CANOPY_REDIS_PASSWORD || '' }, timeout: 15000,
  });
  return {
    provoke: async (t) => {
      const device = await sender(t);
      bearer(t, device.token);
      json(t, readings());
      key = `ratelimit:ingestion:device:${device.id}`;
      await redis('SET', key, String(Date.now() + 600000), 'PX', '60000');
    },
    after: () => redis('DEL', key),
  };
}

// The reads of one device's history: the device sent a reading; path, filters and token set.
function history(route, query) {
  const at = (t, device, extra = '') => path(t, `${route.replace('{device_id}', device)}?${query}${extra}`);
  return {
    [`GET ${route} 200`]: {
      provoke: async (t) => {
        const device = await sender(t);
        await request(t, 'POST', '/api/v1/telemetry/batches', { token: device.token, body: readings() });
        bearer(t, device.owner);
        at(t, device.id);
        delete t.request.headers['If-None-Match'];
      },
    },
    [`GET ${route} 304`]: {
      provoke: async (t) => {
        const device = await sender(t);
        const first = await fetch(`http://${t.host}:${t.port}${route.replace('{device_id}', device.id)}?${query}`, { headers: { Authorization: `Bearer ${device.owner}` } });
        bearer(t, device.owner);
        at(t, device.id);
        t.request.headers['If-None-Match'] = first.headers.get('etag');
      },
    },
    [`GET ${route} 400`]: { provoke: async (t) => { const device = await sender(t); bearer(t, device.owner); path(t, `${route.replace('{device_id}', device.id)}?metric=wind_kph`); } },
    [`GET ${route} 401`]: { provoke: () => {} },
    [`GET ${route} 404`]: { provoke: async (t) => { bearer(t, (await setup(t)).owner.access); at(t, crypto.randomUUID()); } },
    [`GET ${route} 422`]: {
      provoke: async (t) => { const device = await sender(t); bearer(t, device.owner); at(t, device.id, '&from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z'); },
    },
    [`GET ${route} 429`]: limited('standard', true),
    [`GET ${route} 500`]: { skip: noFault },
    [`GET ${route} 503`]: unavailable,
  };
}

const stream = '/api/v1/streams/telemetry';

const plan = {
  'POST /api/v1/device-tokens 200': { provoke: async (t) => { const device = await sender(t); json(t, { device_id: device.id, credential: device.secret }); } },
  'POST /api/v1/device-tokens 400': { provoke: (t) => { t.request.body = '{"device_id":'; t.request.headers['Content-Type'] = 'application/json'; } },
  'POST /api/v1/device-tokens 401': { provoke: (t) => json(t, { device_id: crypto.randomUUID(), credential: `cdc_${crypto.randomBytes(32).toString('base64url')}` }) },
  'POST /api/v1/device-tokens 415': { provoke: plainText },
  'POST /api/v1/device-tokens 422': { provoke: (t) => json(t, { device_id: exampleDevice, credential: 'not-a-device-credential' }) },
  'POST /api/v1/device-tokens 429': limited('auth', false),
  'POST /api/v1/device-tokens 500': { skip: noFault },
  'POST /api/v1/device-tokens 503': unavailable,

  'POST /api/v1/telemetry/batches 200': { provoke: async (t) => { bearer(t, (await sender(t)).token); json(t, readings()); } },
  'POST /api/v1/telemetry/batches 400': { provoke: async (t) => { bearer(t, (await sender(t)).token); t.request.body = '{"readings":[{'; t.request.headers['Content-Type'] = 'application/json'; } },
  'POST /api/v1/telemetry/batches 401': { provoke: async (t) => { bearer(t, (await setup(t)).owner.access); json(t, readings()); } },
  'POST /api/v1/telemetry/batches 409': { provoke: async (t) => { bearer(t, (await sender(t, { activate: false })).token); json(t, readings()); } },
  'POST /api/v1/telemetry/batches 415': { provoke: async (t) => { bearer(t, (await sender(t)).token); plainText(t); } },
  'POST /api/v1/telemetry/batches 422': { provoke: async (t) => { bearer(t, (await sender(t)).token); json(t, readings(86)); } },
  'POST /api/v1/telemetry/batches 429': ingestionLimited(),
  'POST /api/v1/telemetry/batches 500': { skip: noFault },
  'POST /api/v1/telemetry/batches 503': { skip: busy },

  ...history('/api/v1/devices/{device_id}/readings', 'metric=temperature_c'),
  ...history('/api/v1/devices/{device_id}/rollups', 'metric=temperature_c&bucket=5m'),

  [`GET ${stream} 200`]: { skip: streamNeverEnds },
  [`GET ${stream} 400`]: { provoke: async (t) => { bearer(t, (await setup(t)).owner.access); path(t, `${stream}?zone_id=not-a-uuid`); } },
  [`GET ${stream} 401`]: { provoke: () => {} },
  [`GET ${stream} 404`]: { provoke: async (t) => { bearer(t, (await setup(t)).owner.access); path(t, `${stream}?device_id=${crypto.randomUUID()}`); } },
  [`GET ${stream} 422`]: { provoke: async (t) => { bearer(t, (await setup(t)).owner.access); path(t, stream); } },
  [`GET ${stream} 429`]: limited('standard', true),
  [`GET ${stream} 500`]: { skip: noFault },
  [`GET ${stream} 503`]: unavailable,
};

module.exports = { plan };
