// Shared Dredd hook machinery for every API version:
// - validates each JSON response body against the spec's schema (Dredd does not for OAS 3);
// - normalises Content-Type parameters (charset, version) before Dredd's exact comparison;
// - demands a plan for every documented status: provoked by a hook, or skipped with a reason;
// - writes a summary of what was provoked, run and skipped.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const yaml = require('js-yaml');
const { toDraft07 } = require('./json-schema');

function install(hooks, { specPath, plan, summaryPath }) {
  const spec = yaml.load(fs.readFileSync(specPath, 'utf8'));
  const seen = [];

  // Names read "path > summary > status > media type", without the media type when the
  // response has no body (204).
  const keyOf = (t) => {
    const parts = t.name.split(' > ');
    const hasBody = !/^\d{3}$/.test(parts[parts.length - 1]);
    const status = hasBody ? parts[parts.length - 2] : parts[parts.length - 1];
    return { key: `${t.request.method} ${parts[0]} ${status}`, path: parts[0], status, mediaType: hasBody ? parts[parts.length - 1] : null };
  };

  hooks.beforeEach((transaction, done) => {
    const { key, status } = keyOf(transaction);
    const entry = plan[key];
    const record = { key, kind: 'run', reason: null };
    seen.push(record);
    if (entry && entry.skip) {
      transaction.skip = true;
      record.kind = 'skipped';
      record.reason = entry.skip;
      return done();
    }
    if (!entry && !/^2/.test(status)) {
      transaction.fail = `${key}: no hook provokes this documented status and no skip reason is given (add one to the version's hooks).`;
      record.kind = 'unplanned';
      return done();
    }
    // Every transaction is a new logical request: one example Idempotency-Key reused across
    // them would be answered as a replay or a reused key. A plan may still remove or set it.
    for (const name of Object.keys(transaction.request.headers || {})) {
      if (name.toLowerCase() === 'idempotency-key') transaction.request.headers[name] = crypto.randomUUID();
    }
    record.kind = entry && entry.provoke ? 'provoked' : 'run';
    Promise.resolve(entry && entry.provoke ? entry.provoke(transaction) : undefined)
      .then(() => done())
      .catch((err) => { transaction.fail = `${key}: provoking hook failed: ${err.message}`; done(); });
  });

  hooks.beforeEachValidation((transaction, done) => {
    const { key, path: specPath_, status, mediaType } = keyOf(transaction);
    const real = transaction.real || {};
    const headers = real.headers || {};
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() === 'content-type') headers[name] = String(headers[name]).split(';')[0].trim();
    }
    const operation = ((spec.paths[specPath_] || {})[transaction.request.method.toLowerCase()]) || {};
    const response = resolve(spec, (operation.responses || {})[status]);
    const media = response && response.content && response.content[mediaType];
    if (mediaType && /json$/.test(mediaType)) {
      if (media && media.schema) {
        transaction.expected.bodySchema = toDraft07(media.schema, spec);
      } else {
        // Without a schema Dredd would fall back to comparing the example's keys only.
        transaction.fail = `${key}: no response schema found for ${mediaType}; the body cannot be validated.`;
      }
    } else if (media && /^text\//.test(mediaType)) {
      const check = plan[key] && plan[key].validateText;
      if (!check) {
        transaction.fail = `${key}: a text body needs a validateText check in the version's hooks.`;
      } else {
        const problem = check(real.body || '');
        if (problem) transaction.fail = `${key}: ${problem}`;
      }
      // Dredd compares text bodies to the example byte for byte; the check above replaces that.
      transaction.expected.body = real.body;
    }
    done();
  });

  hooks.afterEach((transaction, done) => {
    const { key } = keyOf(transaction);
    const entry = plan[key];
    Promise.resolve(entry && entry.after && !transaction.skip ? entry.after(transaction) : undefined)
      .then(() => done())
      .catch(() => done());
  });

  hooks.afterAll((transactions, done) => {
    const count = (kind) => seen.filter((r) => r.kind === kind).length;
    const summary = {
      transactions: seen.length,
      provoked: count('provoked'),
      run: count('run'),
      skipped: seen.filter((r) => r.kind === 'skipped').map((r) => ({ transaction: r.key, reason: r.reason })),
      unplanned: seen.filter((r) => r.kind === 'unplanned').map((r) => r.key),
    };
    if (summaryPath) {
      fs.mkdirSync(path.dirname(summaryPath), { recursive: true });
      fs.writeFileSync(summaryPath, JSON.stringify(summary, null, 2));
    }
    hooks.log(`contract plan: ${summary.run} run as documented, ${summary.provoked} provoked by hooks, ${summary.skipped.length} skipped with a reason, ${summary.unplanned.length} without a plan`);
    for (const s of summary.skipped) hooks.log(`  skipped ${s.transaction}: ${s.reason}`);
    done();
  });
}

function resolve(spec, node) {
  let current = node;
  while (current && current.$ref) {
    current = current.$ref.replace(/^#\//, '').split('/').reduce((o, k) => (o ? o[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), spec);
  }
  return current;
}

module.exports = { install };
