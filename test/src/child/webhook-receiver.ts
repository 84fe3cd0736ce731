// A webhook receiver in a process of its own, as a customer's would be: it answers each request
// as its plan says and prints every request it got (headers and raw body) as one JSON line, which
// the test reads. The plan (RECEIVER_PLAN) is a comma-separated list of answers for the requests
// in order, `200` for every request after it: a status code, `hang` (never answers), or `big500`
// (a 500 with a 100 KB body). PORT picks the port (0 or unset: a free one), so that a test can
// stop a receiver and start it again where the webhook points.
import { createServer } from 'node:http';

const plan = (process.env['RECEIVER_PLAN'] ?? '').split(',').filter(Boolean);
let count = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const answer = plan[count] ?? '200';
    count++;
    console.log(
      `REQUEST ${JSON.stringify({
        n: count,
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
        answer,
      })}`,
    );
    if (answer === 'hang') return;
    if (answer === 'big500') {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('x'.repeat(100 * 1024));
      return;
    }
    const status = Number(answer);
    res.writeHead(status, status >= 300 && status < 400 ? { location: 'http://127.0.0.1:1/elsewhere' } : {});
    res.end(status < 300 ? 'ok' : `answer ${status}`);
  });
});

server.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`LISTENING ${typeof address === 'object' && address ? address.port : 0}`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
