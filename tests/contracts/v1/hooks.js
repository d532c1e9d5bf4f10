// Dredd hooks of API v1: how each documented status is provoked, or why it is skipped.
// Frozen once v1 is deprecated in the spec (see README, Gates).
'use strict';

const hooks = require('hooks');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { install } = require('../lib/contract-hooks');
const identity = require('./identity');
const jobs = require('./jobs');
const fleet = require('./fleet');
const telemetry = require('./telemetry');
const alerting = require('./alerting');
const insights = require('./insights');

const run = promisify(execFile);
const env = process.env;
const repo = path.resolve(__dirname, '..', '..', '..');

const redisCli = (...args) => run('redis-cli', ['-h', '127.0.0.1', '-p', env.CANOPY_CONTRACT_REDIS_PORT || '', ...args], {
  env: { ...env, REDISCLI_AUTH: env.CANOPY_REDIS_PASSWORD || '' },
  timeout: 15000,
});

const noFault = 'An internal error cannot be provoked from outside without a fault built into the service; the 500 problem path is covered by integration tests.';

const prometheusLine = /^(#( HELP| TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.eE+-]+(\s+-?[0-9]+)?|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (NaN|\+Inf|-Inf))$/;

const plan = {
  'GET /health/live 500': { skip: noFault },
  'GET /health/ready 500': { skip: noFault },
  'GET /metrics 500': { skip: noFault },

  // Redis stops answering for 4 s (CLIENT PAUSE): once the readiness report cached by the
  // previous transaction is older than its 1 s window, the check times out on Redis: 503.
  'GET /health/ready 503': {
    provoke: async () => {
      await redisCli('CLIENT', 'PAUSE', '4000', 'ALL');
      await new Promise((resolve) => setTimeout(resolve, 1200));
    },
    after: () => redisCli('PING'), // answers once the pause is over
  },

  // The service under contract test allows no network to scrape: only the token admits.
  'GET /metrics 200': {
    provoke: (t) => { t.request.headers.Authorization = `Bearer ${env.CANOPY_CONTRACT_SCRAPE_TOKEN}`; },
    validateText: (body) => {
      const bad = body.split('\n').filter((l) => l !== '' && !prometheusLine.test(l));
      if (!body.includes('# TYPE ')) return 'the body is not a Prometheus exposition (no # TYPE line).';
      return bad.length ? `lines that are not Prometheus text format: ${bad.slice(0, 3).join(' | ')}` : null;
    },
  },
  'GET /metrics 403': {
    provoke: (t) => { t.request.headers.Authorization = 'Bearer not-the-scrape-token'; },
  },
};

// Every operation with a body refuses one above its limit (1 MiB) before reading it: 413.
const specPath = path.join(repo, '.openapi', 'api.yaml');
const tooLarge = {};
for (const [route, item] of Object.entries(require('js-yaml').load(require('node:fs').readFileSync(specPath, 'utf8')).paths)) {
  for (const [method, operation] of Object.entries(item)) {
    if (!operation.requestBody) continue;
    tooLarge[`${method.toUpperCase()} ${route} 413`] = {
      provoke: async (t) => {
        if ((operation.security || [{}]).length > 0) identity.bearer(t, (await identity.setup(t)).owner.access);
        t.request.body = JSON.stringify({ filler: 'x'.repeat(1_100_000) });
        t.request.headers['Content-Type'] = 'application/json';
        // The service answers before reading such a body and then closes the connection: the
        // next transaction must not be sent on it.
        t.request.headers.Connection = 'close';
      },
    };
  }
}

install(hooks, {
  specPath,
  plan: { ...plan, ...identity.plan, ...jobs.plan, ...fleet.plan, ...telemetry.plan, ...alerting.plan, ...insights.plan, ...tooLarge },
  summaryPath: env.CANOPY_CONTRACT_SUMMARY,
});
