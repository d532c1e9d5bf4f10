// How the contract run provokes each documented status of the Alerting operations. Every
// transaction gets its own zone, device and rule, made through the API by the owner.
'use strict';

const crypto = require('node:crypto');
const { limited, unavailable, noFault, path } = require('./identity');
const { helpers } = require('./fleet');

const { request, owner, newZone, newDevice, json, plainText, header, ifMatch, to, asOwner, asViewer, common, guarded, read, unique } = helpers;

const exampleRule = '0193a0c4-9300-7000-8000-000000000001';

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

// The verbs: the rule each applies to, and one whose state refuses it (409).
const verbs = [
  { name: 'disable', from: (t) => newRule(t), refusedFrom: (t) => disabledRule(t) },
  { name: 'enable', from: (t) => disabledRule(t), refusedFrom: (t) => newRule(t) },
];
for (const v of verbs) {
  const route = `POST ${rule}/${v.name}`;
  const onRule = (make) => async (t) => { await asOwner(t); const made = await make(t); to(t, exampleRule, made.id); ifMatch(t, made.version); };
  plan[`${route} 200`] = { provoke: onRule(v.from) };
  Object.assign(plan, common(route, exampleRule));
  plan[`${route} 409`] = { provoke: onRule(v.refusedFrom) };
  Object.assign(plan, guarded(route, exampleRule, (t) => newRule(t)));
}

module.exports = { plan };
