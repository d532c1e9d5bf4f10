// How the contract run provokes each documented status of the Alerting operations. Every
// transaction gets its own zone, device and rule (or a device's fault and the alert it raises),
// made through the API by the owner.
'use strict';

const crypto = require('node:crypto');
const { limited, unavailable, noFault, path } = require('./identity');
const { helpers } = require('./fleet');

const { request, owner, newZone, newDevice, faultyDevice, json, plainText, header, ifMatch, to, asOwner, asViewer, common, guarded, read, unique } = helpers;

const exampleRule = '0193a0c4-9300-7000-8000-000000000001';
const exampleAlert = '0193a0c4-9400-7000-8000-000000000001';

// A zone holding one device that reports CO₂, temperature and humidity (sensirion-scd41).
async function watchedZone(t) {
  const zone = await newZone(t);
  await newDevice(t, zone.id);
  return zone;
}
const ruleBody = (zoneId, overrides = {}) => ({
  name: unique('Rule'), metric: 'temperature_c', operator: 'gt', threshold: 32, for_seconds: 300, scope: { kind: 'zone', id: zoneId }, severity: 'warning', ...overrides,
});
async function newRule(t) {
  return request(t, 'POST', '/api/v1/alert-rules', { token: await owner(t), idempotent: true, body: ruleBody((await watchedZone(t)).id) });
}
async function disabledRule(t) {
  const rule = await newRule(t);
  return request(t, 'POST', `/api/v1/alert-rules/${rule.id}/disable`, { token: await owner(t), ifMatch: `"${rule.version}"` });
}

// An OPEN alert: a fault reported on a new device, once Alerting has received Fleet's event.
async function openAlert(t) {
  const device = await faultyDevice(t);
  const deadline = Date.now() + 15000;
  for (;;) {
    const page = await request(t, 'GET', '/api/v1/alerts?status=OPEN&limit=200', { token: await owner(t) });
    const alert = page.data.find((a) => a.device_id === device.id);
    if (alert) return alert;
    if (Date.now() > deadline) throw new Error(`no alert was raised for the fault of device ${device.id}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
const alertVerb = async (t, alert, name) => request(t, 'POST', `/api/v1/alerts/${alert.id}/${name}`, { token: await owner(t), ifMatch: `"${alert.version}"` });
const acknowledgedAlert = async (t) => alertVerb(t, await openAlert(t), 'acknowledge');
const resolvedAlert = async (t) => alertVerb(t, await openAlert(t), 'resolve');

const create = 'POST /api/v1/alert-rules';
const list = 'GET /api/v1/alert-rules';
const rule = '/api/v1/alert-rules/{alert_rule_id}';
const ruleRead = read(exampleRule, (t) => newRule(t));

const plan = {
  [`${create} 201`]: { provoke: async (t) => { await asOwner(t); json(t, ruleBody((await watchedZone(t)).id, { severity: 'critical' })); } },
  [`${create} 400`]: { provoke: async (t) => { await asOwner(t); header(t, 'Idempotency-Key'); } },
  [`${create} 401`]: { provoke: () => {} },
  [`${create} 403`]: { provoke: async (t) => { await asViewer(t); json(t, ruleBody(crypto.randomUUID())); } },
  [`${create} 409`]: { provoke: async (t) => { await asOwner(t); json(t, ruleBody((await watchedZone(t)).id, { name: (await newRule(t)).name })); } },
  [`${create} 415`]: { provoke: async (t) => { await asOwner(t); plainText(t); } },
  [`${create} 422`]: { provoke: async (t) => { await asOwner(t); json(t, ruleBody((await watchedZone(t)).id, { metric: 'light_ppfd', threshold: 1500 })); } },
  [`${create} 429`]: limited('standard', true),
  [`${create} 500`]: { skip: noFault },
  [`${create} 503`]: unavailable,

  [`${list} 200`]: { provoke: async (t) => { await asOwner(t); await newRule(t); path(t, '/api/v1/alert-rules?status=ENABLED&limit=2'); } },
  [`${list} 400`]: { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/alert-rules?status=SNOOZED'); } },
  [`${list} 401`]: { provoke: () => {} },
  [`${list} 429`]: limited('standard', true),
  [`${list} 500`]: { skip: noFault },
  [`${list} 503`]: unavailable,

  [`GET ${rule} 200`]: ruleRead[200],
  [`GET ${rule} 304`]: ruleRead[304],
  ...common(`GET ${rule}`, exampleRule, { viewerForbidden: false }),
};

// The statuses of the verbs on one resource: each verb applied to what `from` makes, refused
// (409) on what `refusedFrom` makes, and the shared and guarded statuses on what `make` makes.
function verbPlans(resource, example, make, verbs) {
  const on = (build) => async (t) => { await asOwner(t); const made = await build(t); to(t, example, made.id); ifMatch(t, made.version); };
  for (const v of verbs) {
    const route = `POST ${resource}/${v.name}`;
    plan[`${route} 200`] = { provoke: on(v.from) };
    Object.assign(plan, common(route, example));
    plan[`${route} 409`] = { provoke: on(v.refusedFrom) };
    Object.assign(plan, guarded(route, example, make));
  }
}

verbPlans(rule, exampleRule, (t) => newRule(t), [
  { name: 'disable', from: (t) => newRule(t), refusedFrom: (t) => disabledRule(t) },
  { name: 'enable', from: (t) => disabledRule(t), refusedFrom: (t) => newRule(t) },
]);

const alerts = 'GET /api/v1/alerts';
const alert = '/api/v1/alerts/{alert_id}';
const alertRead = read(exampleAlert, (t) => openAlert(t));
Object.assign(plan, {
  [`${alerts} 200`]: { provoke: async (t) => { await asOwner(t); await openAlert(t); path(t, '/api/v1/alerts?status=OPEN&limit=5'); } },
  [`${alerts} 400`]: { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/alerts?status=SILENCED'); } },
  [`${alerts} 401`]: { provoke: () => {} },
  [`${alerts} 429`]: limited('standard', true),
  [`${alerts} 500`]: { skip: noFault },
  [`${alerts} 503`]: unavailable,
  [`GET ${alert} 200`]: alertRead[200],
  [`GET ${alert} 304`]: alertRead[304],
  ...common(`GET ${alert}`, exampleAlert, { viewerForbidden: false }),
});

verbPlans(alert, exampleAlert, (t) => openAlert(t), [
  { name: 'acknowledge', from: (t) => openAlert(t), refusedFrom: (t) => acknowledgedAlert(t) },
  { name: 'resolve', from: (t) => acknowledgedAlert(t), refusedFrom: (t) => resolvedAlert(t) },
]);

module.exports = { plan };
