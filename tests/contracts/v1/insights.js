// How the contract run provokes each documented status of the Insights operations: the view
// models of the owner's organisation, and a trend chart of a zone made through the API.
'use strict';

const crypto = require('node:crypto');
const { limited, unavailable, noFault, path } = require('./identity');
const { helpers } = require('./fleet');

const { request, owner, newZone, newDevice, asOwner } = helpers;

const fleetStatus = 'GET /api/v1/summaries/fleet-status';
const alertSummary = 'GET /api/v1/summaries/alerts';
const topZones = 'GET /api/v1/analytics/top-faulting-zones';
const trend = 'GET /api/v1/metrics/trend-chart';

const chartOf = (zoneId, query = '') => `/api/v1/metrics/trend-chart?zone_id=${zoneId}&metric=temperature_c${query}`;

// A zone with a device that reports temperature, once Insights has received its zone.created
// (a chart of it exists then, empty until readings arrive; before, the chart is 404).
async function chartedZone(t) {
  const zone = await newZone(t);
  await newDevice(t, zone.id);
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      await request(t, 'GET', chartOf(zone.id), { token: await owner(t) });
      return zone;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const plan = {
  [`${fleetStatus} 200`]: { provoke: asOwner },
  [`${fleetStatus} 401`]: { provoke: () => {} },
  [`${fleetStatus} 429`]: limited('standard', true),
  [`${fleetStatus} 500`]: { skip: noFault },
  [`${fleetStatus} 503`]: unavailable,

  [`${alertSummary} 200`]: { provoke: asOwner },
  [`${alertSummary} 401`]: { provoke: () => {} },
  [`${alertSummary} 429`]: limited('standard', true),
  [`${alertSummary} 500`]: { skip: noFault },
  [`${alertSummary} 503`]: unavailable,

  [`${topZones} 200`]: { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/analytics/top-faulting-zones?period=month'); } },
  [`${topZones} 400`]: { provoke: async (t) => { await asOwner(t); path(t, '/api/v1/analytics/top-faulting-zones?period=year'); } },
  [`${topZones} 401`]: { provoke: () => {} },
  [`${topZones} 429`]: limited('reporting', true),
  [`${topZones} 500`]: { skip: noFault },
  [`${topZones} 503`]: unavailable,

  [`${trend} 200`]: { provoke: async (t) => { await asOwner(t); path(t, chartOf((await chartedZone(t)).id)); } },
  [`${trend} 400`]: { provoke: async (t) => { await asOwner(t); path(t, chartOf('not-a-uuid')); } },
  [`${trend} 401`]: { provoke: () => {} },
  [`${trend} 404`]: { provoke: async (t) => { await asOwner(t); path(t, chartOf(crypto.randomUUID())); } },
  [`${trend} 422`]: {
    // The range is checked before the zone is looked up.
    provoke: async (t) => { await asOwner(t); path(t, chartOf(crypto.randomUUID(), '&from=2026-11-22T00:00:00Z&to=2026-11-21T00:00:00Z')); },
  },
  [`${trend} 429`]: limited('standard', true),
  [`${trend} 500`]: { skip: noFault },
  [`${trend} 503`]: unavailable,
};

module.exports = { plan };
