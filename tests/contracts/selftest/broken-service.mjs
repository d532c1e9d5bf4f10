// A deliberately broken stand-in for the service, used to prove the contract gate fails:
// liveness answers a status of the wrong type, readiness leaves out the required checks,
// and metrics is correct (so the gate is seen to fail on bodies, not on everything).
import http from 'node:http';

const port = Number(process.argv[2]);
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/health/live') {
    res.writeHead(200, { 'Content-Type': 'application/health+json' });
    return res.end(JSON.stringify({ status: 5 }));
  }
  if (url.pathname === '/health/ready') {
    res.writeHead(200, { 'Content-Type': 'application/health+json' });
    return res.end(JSON.stringify({ status: 'pass' }));
  }
  if (url.pathname === '/metrics') {
    if (req.headers.authorization !== `Bearer ${process.env.CANOPY_CONTRACT_SCRAPE_TOKEN}`) {
      res.writeHead(403, { 'Content-Type': 'application/problem+json' });
      return res.end(JSON.stringify({
        type: 'https://canopy.dev/problems/forbidden', title: 'You are not allowed to do this', status: 403,
        detail: 'No.', instance: '/metrics', human_readable_cause: 'No.', suggested_action: 'None.',
        trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      }));
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    return res.end('# HELP up Whether up.\n# TYPE up gauge\nup 1\n');
  }
  res.writeHead(404);
  res.end();
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
