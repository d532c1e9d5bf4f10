// How the contract run provokes each documented status of the Identity operations. The
// service under test is real: accounts, members and invitations are made through the API,
// and an invitation's token is read the way its delivery would (decrypted from the outbox).
'use strict';

const crypto = require('node:crypto');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');

const run = promisify(execFile);
const env = process.env;
const password = 'contract-test-password-42';
const noFault = 'An internal error cannot be provoked from outside without a fault built into the service; the 500 problem path is covered by integration tests.';
const exampleMember = '0193a0c4-8a31-7000-8000-000000000002';

const email = (who) => `${who}.${crypto.randomUUID()}@contract.example`;

async function call(t, method, path, { body, token, idempotent } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (idempotent) headers['Idempotency-Key'] = crypto.randomUUID();
  const response = await fetch(`http://${t.host}:${t.port}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

async function signIn(t, address) {
  const tokens = await call(t, 'POST', '/api/v1/auth/tokens', { body: { email: address, password } });
  return { access: tokens.access_token, refresh: tokens.refresh_token };
}

async function newOwner(t) {
  const address = email('owner');
  const created = await call(t, 'POST', '/api/v1/sign-ups', {
    body: { organization_name: 'Contract Farms', email: address, password, display_name: 'Contract Owner' }, idempotent: true,
  });
  return { email: address, memberId: created.member_id, tenantId: created.tenant_id, userId: created.user_id, ...(await signIn(t, address)) };
}

// One statement as the owner role with every tenant visible (values are generated here, never user input).
async function sql(statement) {
  const { stdout } = await run('psql', [
    '-h', '127.0.0.1', '-p', env.CANOPY_PG_PORT, '-U', env.CANOPY_PG_OWNER_USER, '-d', env.CANOPY_PG_TEST_DATABASE, '-qAt', '-v', 'ON_ERROR_STOP=1',
    '-c', "SET app.scope = 'platform'",
    '-c', statement,
  ], { env: { ...env, PGPASSWORD: env.CANOPY_PG_OWNER_PASSWORD }, timeout: 15000 });
  return stdout.trim();
}

// The invitation's token, as its delivery reads it: AES-256-GCM under the key id in front of it.
async function invitationToken(invitationId) {
  const stored = Buffer.from(await sql(`SELECT payload->>'token_cipher' FROM platform.outbox WHERE aggregate_id = '${invitationId}' AND type = 'invitation.created'`), 'base64');
  const kidLength = stored[0];
  const kid = stored.subarray(1, 1 + kidLength);
  const key = Buffer.from(env[`Identity__PiiKeys__${kid.toString('ascii')}`] || '', 'base64');
  const nonce = stored.subarray(1 + kidLength, 13 + kidLength);
  const tag = stored.subarray(13 + kidLength, 29 + kidLength);
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(kid);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(stored.subarray(29 + kidLength)), decipher.final()]).toString('utf8');
}

async function invite(t, owner, role, address = email(role)) {
  const invitation = await call(t, 'POST', '/api/v1/invitations', { body: { email: address, role }, token: owner.access, idempotent: true });
  return { email: address, token: await invitationToken(invitation.id) };
}

async function newMember(t, owner, role) {
  const invitation = await invite(t, owner, role);
  const member = await call(t, 'POST', '/api/v1/invitations/accept', {
    body: { token: invitation.token, password, display_name: 'Contract Member' }, idempotent: true,
  });
  return { email: invitation.email, memberId: member.id, ...(await signIn(t, invitation.email)) };
}

// The quotas of the Test environment are too large to spend by calling; instead the caller's
// bucket is marked full in Redis (its theoretical arrival time ten minutes ahead), the same
// key the service derives (RateLimitKeys), and emptied again after the transaction.
const redis = (...args) => run('redis-cli', ['-h', '127.0.0.1', '-p', env.CANOPY_CONTRACT_REDIS_PORT, ...args], {
  env: { ...env, REDISCLI_AUTH: env.CANOPY_REDIS_PASSWORD || '' }, timeout: 15000,
});
const localIp = '127.0.0.1';
const quotaKey = (tier, w) => ({
  auth: `auth:ip:${localIp}`,
  critical: w ? `critical:user:${w.owner.userId}:ip:${localIp}` : `critical:ip:${localIp}`,
  standard: w ? `standard:tenant:${w.owner.tenantId}` : `standard:ip:${localIp}`,
  reporting: w ? `reporting:user:${w.owner.userId}` : `reporting:ip:${localIp}`,
}[tier]);

// A 429 of the given tier; signedIn: the caller is the organisation's owner.
function limited(tier, signedIn) {
  let key;
  return {
    provoke: async (t) => {
      const w = signedIn ? await setup(t) : null;
      if (w) bearer(t, w.owner.access);
      key = `ratelimit:${quotaKey(tier, w)}`;
      await redis('SET', key, String(Date.now() + 600000), 'PX', '60000');
    },
    after: () => redis('DEL', key),
  };
}

// Access tokens are checked for revocation in Redis and, when Redis cannot answer, in PostgreSQL
// (ADR 0026): a signed-in operation answers 503 only when neither can, which cannot be provoked
// from outside without stopping the database the whole run needs. Integration tests stop both.
const unavailable = { skip: 'Needs Redis and PostgreSQL both unreachable (the revocation check falls back from one to the other); integration tests cover it (SessionTests).' };

let world;
const setup = (t) => {
  world ??= (async () => {
    const owner = await newOwner(t);
    return { owner, viewer: await newMember(t, owner, 'viewer') };
  })();
  return world;
};

const json = (t, body) => { t.request.body = JSON.stringify(body); t.request.headers['Content-Type'] = 'application/json'; };
const bearer = (t, token) => { t.request.headers.Authorization = `Bearer ${token}`; };
const fresh = (t) => { t.request.headers['Idempotency-Key'] = crypto.randomUUID(); };
const path = (t, value) => { t.fullPath = value; t.request.uri = value; };
const member = (t, id) => path(t, t.fullPath.replace(exampleMember, id));
const malformed = (t) => { t.request.body = '{ not json'; };
const plainText = (t) => { t.request.headers['Content-Type'] = 'text/plain'; };

const asOwner = async (t) => bearer(t, (await setup(t)).owner.access);
const asViewer = async (t) => bearer(t, (await setup(t)).viewer.access);

const plan = {
  'POST /api/v1/sign-ups 201': { provoke: (t) => { json(t, { organization_name: 'Contract Farms', email: email('signup'), password, display_name: 'Sam' }); fresh(t); } },
  'POST /api/v1/sign-ups 400': { provoke: (t) => { delete t.request.headers['Idempotency-Key']; } },
  'POST /api/v1/sign-ups 409': { provoke: async (t) => { json(t, { organization_name: 'Copy Farms', email: (await setup(t)).owner.email, password, display_name: 'Sam' }); fresh(t); } },
  'POST /api/v1/sign-ups 415': { provoke: (t) => { plainText(t); fresh(t); } },
  'POST /api/v1/sign-ups 422': { provoke: (t) => { json(t, { organization_name: 'Short Farms', email: email('short'), password: 'too-short', display_name: 'Sam' }); fresh(t); } },
  'POST /api/v1/sign-ups 429': limited('auth', false),
  'POST /api/v1/sign-ups 500': { skip: noFault },

  'POST /api/v1/auth/tokens 200': { provoke: async (t) => json(t, { email: (await setup(t)).owner.email, password }) },
  'POST /api/v1/auth/tokens 400': { provoke: malformed },
  'POST /api/v1/auth/tokens 401': { provoke: (t) => json(t, { email: email('nobody'), password }) },
  'POST /api/v1/auth/tokens 415': { provoke: plainText },
  'POST /api/v1/auth/tokens 422': { provoke: (t) => json(t, { email: email('nopassword') }) },
  'POST /api/v1/auth/tokens 429': limited('auth', false),
  'POST /api/v1/auth/tokens 500': { skip: noFault },

  'POST /api/v1/auth/tokens/refresh 200': { provoke: async (t) => json(t, { refresh_token: (await signIn(t, (await setup(t)).owner.email)).refresh }) },
  'POST /api/v1/auth/tokens/refresh 400': { provoke: malformed },
  'POST /api/v1/auth/tokens/refresh 401': { provoke: (t) => json(t, { refresh_token: `rt_${crypto.randomUUID()}` }) },
  'POST /api/v1/auth/tokens/refresh 415': { provoke: plainText },
  'POST /api/v1/auth/tokens/refresh 422': { provoke: (t) => json(t, {}) },
  'POST /api/v1/auth/tokens/refresh 429': limited('auth', false),
  'POST /api/v1/auth/tokens/refresh 500': { skip: noFault },

  'POST /api/v1/auth/tokens/revoke 204': {
    provoke: async (t) => { const session = await signIn(t, (await setup(t)).owner.email); bearer(t, session.access); json(t, { refresh_token: session.refresh }); },
  },
  'POST /api/v1/auth/tokens/revoke 400': { provoke: async (t) => { await asOwner(t); malformed(t); } },
  'POST /api/v1/auth/tokens/revoke 401': { provoke: () => {} },
  'POST /api/v1/auth/tokens/revoke 415': { provoke: async (t) => { await asOwner(t); plainText(t); } },
  'POST /api/v1/auth/tokens/revoke 422': { provoke: async (t) => { await asOwner(t); json(t, {}); } },
  'POST /api/v1/auth/tokens/revoke 429': limited('auth', true),
  'POST /api/v1/auth/tokens/revoke 500': { skip: noFault },
  'POST /api/v1/auth/tokens/revoke 503': unavailable,

  'GET /api/v1/auth/jwks 429': limited('standard', false),
  'GET /api/v1/auth/jwks 500': { skip: noFault },

  'GET /api/v1/me 200': { provoke: asOwner },
  'GET /api/v1/me 401': { provoke: () => {} },
  'GET /api/v1/me 429': limited('standard', true),
  'GET /api/v1/me 500': { skip: noFault },
  'GET /api/v1/me 503': unavailable,

  'GET /api/v1/me/data-export 200': { provoke: asOwner },
  'GET /api/v1/me/data-export 401': { provoke: () => {} },
  'GET /api/v1/me/data-export 429': limited('reporting', true),
  'GET /api/v1/me/data-export 500': { skip: noFault },
  'GET /api/v1/me/data-export 503': unavailable,

  'POST /api/v1/me/erase 204': { provoke: async (t) => { bearer(t, (await newMember(t, (await setup(t)).owner, 'operator')).access); fresh(t); } },
  'POST /api/v1/me/erase 400': { provoke: async (t) => { await asOwner(t); delete t.request.headers['Idempotency-Key']; } },
  'POST /api/v1/me/erase 401': { provoke: fresh },
  'POST /api/v1/me/erase 409': { provoke: async (t) => { bearer(t, (await newOwner(t)).access); fresh(t); } },
  'POST /api/v1/me/erase 429': limited('critical', true),
  'POST /api/v1/me/erase 500': { skip: noFault },
  'POST /api/v1/me/erase 503': unavailable,

  'GET /api/v1/members 200': { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/members'); } },
  'GET /api/v1/members 400': { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/members?limit=0'); } },
  'GET /api/v1/members 401': { provoke: () => {} },
  'GET /api/v1/members 429': limited('standard', true),
  'GET /api/v1/members 500': { skip: noFault },
  'GET /api/v1/members 503': unavailable,

  'POST /api/v1/invitations 201': { provoke: async (t) => { await asOwner(t); json(t, { email: email('invited'), role: 'operator' }); fresh(t); } },
  'POST /api/v1/invitations 400': { provoke: async (t) => { await asOwner(t); delete t.request.headers['Idempotency-Key']; } },
  'POST /api/v1/invitations 401': { provoke: fresh },
  'POST /api/v1/invitations 403': { provoke: async (t) => { await asViewer(t); json(t, { email: email('invited'), role: 'viewer' }); fresh(t); } },
  'POST /api/v1/invitations 409': { provoke: async (t) => { await asOwner(t); json(t, { email: (await setup(t)).viewer.email, role: 'viewer' }); fresh(t); } },
  'POST /api/v1/invitations 415': { provoke: async (t) => { await asOwner(t); plainText(t); fresh(t); } },
  'POST /api/v1/invitations 422': { provoke: async (t) => { await asOwner(t); json(t, { email: email('invited') }); fresh(t); } },
  'POST /api/v1/invitations 429': limited('critical', true),
  'POST /api/v1/invitations 500': { skip: noFault },
  'POST /api/v1/invitations 503': unavailable,

  'POST /api/v1/invitations/accept 201': {
    provoke: async (t) => { const { token } = await invite(t, (await setup(t)).owner, 'viewer'); json(t, { token, password, display_name: 'Accepting Member' }); fresh(t); },
  },
  'POST /api/v1/invitations/accept 400': { provoke: (t) => { delete t.request.headers['Idempotency-Key']; } },
  // Invited, then the address signs up on its own before accepting: one account per e-mail.
  'POST /api/v1/invitations/accept 409': {
    provoke: async (t) => {
      const invitation = await invite(t, (await setup(t)).owner, 'viewer');
      await call(t, 'POST', '/api/v1/sign-ups', { body: { organization_name: 'Elsewhere', email: invitation.email, password, display_name: 'Sam' }, idempotent: true });
      json(t, { token: invitation.token, password, display_name: 'Sam' });
      fresh(t);
    },
  },
  'POST /api/v1/invitations/accept 410': { provoke: (t) => { json(t, { token: `inv_${crypto.randomUUID()}`, password, display_name: 'Sam' }); fresh(t); } },
  'POST /api/v1/invitations/accept 415': { provoke: (t) => { plainText(t); fresh(t); } },
  'POST /api/v1/invitations/accept 422': { provoke: (t) => { json(t, { token: 'inv_x', password }); fresh(t); } },
  'POST /api/v1/invitations/accept 429': limited('auth', false),
  'POST /api/v1/invitations/accept 500': { skip: noFault },

  'POST /api/v1/members/{member_id}/change-role 200': {
    provoke: async (t) => { const w = await setup(t); member(t, (await newMember(t, w.owner, 'viewer')).memberId); bearer(t, w.owner.access); json(t, { role: 'operator' }); },
  },
  'POST /api/v1/members/{member_id}/change-role 400': { provoke: async (t) => { await asOwner(t); member(t, 'not-a-uuid'); } },
  'POST /api/v1/members/{member_id}/change-role 401': { provoke: () => {} },
  'POST /api/v1/members/{member_id}/change-role 403': { provoke: async (t) => { await asViewer(t); member(t, (await setup(t)).owner.memberId); } },
  'POST /api/v1/members/{member_id}/change-role 404': { provoke: async (t) => { await asOwner(t); member(t, crypto.randomUUID()); } },
  'POST /api/v1/members/{member_id}/change-role 409': { provoke: async (t) => { const owner = await newOwner(t); bearer(t, owner.access); member(t, owner.memberId); json(t, { role: 'admin' }); } },
  'POST /api/v1/members/{member_id}/change-role 415': { provoke: async (t) => { await asOwner(t); member(t, (await setup(t)).viewer.memberId); plainText(t); } },
  'POST /api/v1/members/{member_id}/change-role 422': { provoke: async (t) => { await asOwner(t); member(t, (await setup(t)).viewer.memberId); json(t, {}); } },
  'POST /api/v1/members/{member_id}/change-role 429': limited('critical', true),
  'POST /api/v1/members/{member_id}/change-role 500': { skip: noFault },
  'POST /api/v1/members/{member_id}/change-role 503': unavailable,

  'POST /api/v1/members/{member_id}/remove 204': {
    provoke: async (t) => { const w = await setup(t); member(t, (await newMember(t, w.owner, 'viewer')).memberId); bearer(t, w.owner.access); },
  },
  'POST /api/v1/members/{member_id}/remove 400': { provoke: async (t) => { await asOwner(t); member(t, 'not-a-uuid'); } },
  'POST /api/v1/members/{member_id}/remove 401': { provoke: () => {} },
  'POST /api/v1/members/{member_id}/remove 403': { provoke: async (t) => { await asViewer(t); member(t, (await setup(t)).owner.memberId); } },
  'POST /api/v1/members/{member_id}/remove 404': { provoke: async (t) => { await asOwner(t); member(t, crypto.randomUUID()); } },
  'POST /api/v1/members/{member_id}/remove 409': { provoke: async (t) => { const owner = await newOwner(t); bearer(t, owner.access); member(t, owner.memberId); } },
  'POST /api/v1/members/{member_id}/remove 429': limited('critical', true),
  'POST /api/v1/members/{member_id}/remove 500': { skip: noFault },
  'POST /api/v1/members/{member_id}/remove 503': unavailable,

  'GET /api/v1/security-events 200': { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/security-events?limit=5'); } },
  'GET /api/v1/security-events 400': { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/security-events?cursor=forged.cursor'); } },
  'GET /api/v1/security-events 401': { provoke: () => {} },
  'GET /api/v1/security-events 403': { provoke: async (t) => { await asViewer(t); path(t, '/api/v1/security-events'); } },
  'GET /api/v1/security-events 429': limited('reporting', true),
  'GET /api/v1/security-events 500': { skip: noFault },
  'GET /api/v1/security-events 503': unavailable,
};

module.exports = { plan, setup, sql, limited, unavailable, noFault, bearer, fresh, path };
