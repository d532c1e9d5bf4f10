// How the contract run provokes each documented status of the Jobs operations: jobs and dead
// letters are written straight into the owner's organisation (as a worker would leave them).
'use strict';

const crypto = require('node:crypto');
const { setup, sql, limited, unavailable, noFault, bearer, fresh, path } = require('./identity');

const exampleJob = '0193a0c4-8a40-7000-8000-000000000001';
const exampleLetter = '0193a0c4-8a50-7000-8000-000000000001';

async function job(tenant) {
  const id = crypto.randomUUID();
  await sql(`INSERT INTO platform.jobs (id, queue, type, tenant_id, payload, status, run_at, attempts, max_attempts, progress, created_at, updated_at)
             VALUES ('${id}', 'contract-exports', 'exports.render_csv', '${tenant}', '{}', 'RUNNING', now(), 1, 6, 0.5, now(), now())`);
  return id;
}

async function deadLetter(tenant, status = 'HELD') {
  const jobId = crypto.randomUUID();
  const id = crypto.randomUUID();
  await sql(`WITH dead AS (
               INSERT INTO platform.jobs (id, queue, type, tenant_id, payload, idempotency_key, status, run_at, attempts, max_attempts, created_at, updated_at, finished_at)
               VALUES ('${jobId}', 'contract-webhooks', 'webhooks.deliver', '${tenant}', '{}', 'contract-${id}', 'DEAD', now(), 6, 6, now(), now(), now()) RETURNING id)
             INSERT INTO platform.dead_letters (id, source, source_id, queue, owner, tenant_id, type, payload, idempotency_key, triage, status, last_error, attempts, created_at, updated_at)
             SELECT '${id}', 'job', id, 'contract-webhooks', 'webhooks', '${tenant}', 'webhooks.deliver', '{}', 'contract-${id}', 'downstream_outage', '${status}',
                    'DownstreamUnavailableException: The receiver answered 503.', '[{}]', now(), now() FROM dead`);
  return id;
}

const to = (t, example, id) => path(t, t.fullPath.replace(example, id));
const asOwner = async (t) => { const w = await setup(t); bearer(t, w.owner.access); return w; };
const asViewer = async (t) => { const w = await setup(t); bearer(t, w.viewer.access); return w; };

let spentBy;
const plan = {
  'GET /api/v1/jobs/{job_id} 200': { provoke: async (t) => { const w = await asOwner(t); to(t, exampleJob, await job(w.owner.tenantId)); } },
  'GET /api/v1/jobs/{job_id} 400': { provoke: async (t) => { await asOwner(t); to(t, exampleJob, 'not-a-uuid'); } },
  'GET /api/v1/jobs/{job_id} 401': { provoke: () => {} },
  'GET /api/v1/jobs/{job_id} 404': { provoke: async (t) => { await asOwner(t); to(t, exampleJob, crypto.randomUUID()); } },
  'GET /api/v1/jobs/{job_id} 429': limited('standard', true),
  'GET /api/v1/jobs/{job_id} 500': { skip: noFault },
  'GET /api/v1/jobs/{job_id} 503': unavailable,

  'GET /api/v1/dead-letters 200': { provoke: async (t) => { const w = await asOwner(t); await deadLetter(w.owner.tenantId); path(t, '/api/v1/dead-letters?status=HELD'); } },
  'GET /api/v1/dead-letters 400': { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/dead-letters?limit=0'); } },
  'GET /api/v1/dead-letters 401': { provoke: () => {} },
  'GET /api/v1/dead-letters 403': { provoke: async (t) => { await asViewer(t); path(t, '/api/v1/dead-letters'); } },
  'GET /api/v1/dead-letters 429': limited('reporting', true),
  'GET /api/v1/dead-letters 500': { skip: noFault },
  'GET /api/v1/dead-letters 503': unavailable,

  'POST /api/v1/dead-letters/{dead_letter_id}/replay 200': { provoke: async (t) => { const w = await asOwner(t); to(t, exampleLetter, await deadLetter(w.owner.tenantId)); fresh(t); } },
  'POST /api/v1/dead-letters/{dead_letter_id}/replay 400': { provoke: async (t) => { await asOwner(t); delete t.request.headers['Idempotency-Key']; } },
  'POST /api/v1/dead-letters/{dead_letter_id}/replay 401': { provoke: fresh },
  'POST /api/v1/dead-letters/{dead_letter_id}/replay 403': { provoke: async (t) => { await asViewer(t); fresh(t); } },
  'POST /api/v1/dead-letters/{dead_letter_id}/replay 404': { provoke: async (t) => { await asOwner(t); to(t, exampleLetter, crypto.randomUUID()); fresh(t); } },
  'POST /api/v1/dead-letters/{dead_letter_id}/replay 409': {
    provoke: async (t) => { const w = await asOwner(t); to(t, exampleLetter, await deadLetter(w.owner.tenantId, 'QUARANTINED')); fresh(t); },
  },
  // The platform's replay budget (50 a minute) is spent for the length of this transaction.
  'POST /api/v1/dead-letters/{dead_letter_id}/replay 429': {
    provoke: async (t) => {
      const w = await asOwner(t);
      spentBy = await deadLetter(w.owner.tenantId);
      await sql(`INSERT INTO platform.dead_letter_replays (dead_letter_id, replayed_at, automatic) SELECT '${spentBy}', now(), false FROM generate_series(1, 50)`);
      to(t, exampleLetter, await deadLetter(w.owner.tenantId));
      fresh(t);
    },
    after: () => sql(`DELETE FROM platform.dead_letter_replays WHERE dead_letter_id = '${spentBy}'`),
  },
  'POST /api/v1/dead-letters/{dead_letter_id}/replay 500': { skip: noFault },
  'POST /api/v1/dead-letters/{dead_letter_id}/replay 503': unavailable,

  'POST /api/v1/dead-letters/{dead_letter_id}/quarantine 200': { provoke: async (t) => { const w = await asOwner(t); to(t, exampleLetter, await deadLetter(w.owner.tenantId)); } },
  'POST /api/v1/dead-letters/{dead_letter_id}/quarantine 400': { provoke: async (t) => { await asOwner(t); to(t, exampleLetter, 'not-a-uuid'); } },
  'POST /api/v1/dead-letters/{dead_letter_id}/quarantine 401': { provoke: () => {} },
  'POST /api/v1/dead-letters/{dead_letter_id}/quarantine 403': { provoke: asViewer },
  'POST /api/v1/dead-letters/{dead_letter_id}/quarantine 404': { provoke: async (t) => { await asOwner(t); to(t, exampleLetter, crypto.randomUUID()); } },
  'POST /api/v1/dead-letters/{dead_letter_id}/quarantine 409': {
    provoke: async (t) => { const w = await asOwner(t); to(t, exampleLetter, await deadLetter(w.owner.tenantId, 'QUARANTINED')); },
  },
  'POST /api/v1/dead-letters/{dead_letter_id}/quarantine 429': limited('critical', true),
  'POST /api/v1/dead-letters/{dead_letter_id}/quarantine 500': { skip: noFault },
  'POST /api/v1/dead-letters/{dead_letter_id}/quarantine 503': unavailable,
};

module.exports = { plan };
