import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { ErrorResponse } from '@parley/protocol';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';

/** The metrics port a server printed in its `listening` line (with METRICS_PORT set). */
function metricsPortOf(server: ParleyProcess): number {
  for (const line of server.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; metricsPort?: number };
    if (entry.msg === 'listening' && typeof entry.metricsPort === 'number') return entry.metricsPort;
  }
  throw new Error(`no metricsPort in the output:\n${server.output()}`);
}

/** Log lines at error level (pino's 50) or above. */
function errorLines(server: ParleyProcess): string[] {
  return server
    .output()
    .split('\n')
    .filter((line) => /^\{"level":(50|60)/.test(line));
}

describe('metrics sharing the public port', () => {
  let server: ParleyProcess;
  beforeAll(async () => {
    server = await startParley();
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
  });

  it('answer at /metrics only, spelled exactly', async () => {
    const api = client(server.url);
    expect((await api.get('/metrics')).status).toBe(200);
    for (const spelling of ['/metrics/', '/METRICS', '/Metrics', '/metrics//']) {
      const res = await api.get<ErrorResponse>(spelling);
      expect([spelling, res.status, res.text.includes('parley_')]).toEqual([spelling, 404, false]);
    }
  });

  it('match REST paths exactly too', async () => {
    const api = client(server.url);
    expect((await api.get('/healthz')).status).toBe(200);
    expect((await api.get('/HEALTHZ')).status).toBe(404);
    expect((await api.get('/v1/ME')).status).toBe(404);
    // Every router, the team's and the project settings' too (they were case-insensitive and took a
    // trailing slash), and the published contract. (Below a prefix that requires sign-in, a wrong
    // spelling without a token is a 401 first: the answer then names nothing.)
    for (const path of ['/v1/projects/x/AGENTS', '/v1/projects/x/', '/v1/PROJECTS/x', '/v1/OPENAPI.json'])
      expect([path, (await api.get(path)).status]).toEqual([path, 404]);
  });
});

describe('metrics on METRICS_PORT', () => {
  let server: ParleyProcess;
  beforeAll(async () => {
    server = await startParley({ env: { METRICS_PORT: '0', METRICS_TOKEN: 'scrape-token' } });
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
  });

  it('are served on their own port, behind the token, and not on the public one', async () => {
    const metricsUrl = `http://127.0.0.1:${metricsPortOf(server)}`;
    expect(metricsUrl).not.toBe(server.url);
    // The metrics port is not the REST API (nor in its OpenAPI document): plain fetch there.
    const scraped = await fetch(`${metricsUrl}/metrics`, { headers: { authorization: 'Bearer scrape-token' } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('parley_socket_connections');
    expect((await fetch(`${metricsUrl}/metrics`)).status).toBe(401);
    // Only metrics there: the API is on the public port.
    expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(404);
    for (const spelling of ['/metrics', '/metrics/', '/METRICS']) {
      expect([spelling, (await client(server.url).get(spelling, { token: 'scrape-token' })).status]).toEqual([
        spelling,
        404,
      ]);
    }
    expect((await client(server.url).get('/healthz')).status).toBe(200);
  });
});

describe('malformed requests', () => {
  let server: ParleyProcess;
  beforeAll(async () => {
    // A small sign-in allowance: malformed requests are refused before any of it is spent.
    server = await startParley({ env: { RATE_LIMIT_ANONYMOUS_PER_MINUTE: '2' } });
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
  });

  it('answer 400 BAD_REQUEST, not 500, and log no failure', async () => {
    const api = client(server.url);
    const before = errorLines(server).length;
    const project = '0123456789abcdef01234567';
    for (let i = 0; i < 5; i++) {
      const badGzip = await fetch(`${server.url}/v1/projects/${project}/auth/anonymous`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: 'this is not gzip',
      });
      expect(badGzip.status).toBe(400);
      expect(((await badGzip.json()) as ErrorResponse).error.code).toBe('BAD_REQUEST');
      for (const path of [`/v1/projects/%E0%A4%A/widget`, `/v1/projects/%zz/auth/anonymous`]) {
        const res = await api.get<ErrorResponse>(path);
        expect([path, res.status, res.body.error?.code]).toEqual([path, 400, 'BAD_REQUEST']);
      }
    }
    // A truncated gzip body is as malformed as no gzip at all.
    const truncated = gzipSync(Buffer.from('{}')).subarray(0, 8);
    const cut = await fetch(`${server.url}/v1/projects/${project}/auth/anonymous`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: truncated,
    });
    expect(cut.status).toBe(400);
    expect(errorLines(server).slice(before)).toEqual([]);
  });

  it('answer in the protocol shape when the HTTP parser refuses them', async () => {
    const api = client(server.url);
    const before = errorLines(server).length;
    // A query string past Node's 16 KB limit on the request line (found by fuzz.test.ts): Node
    // itself answered a bare 431 without a body.
    const longQuery = `?email=${'x'.repeat(20_000)}`;
    for (const path of [`/v1/projects/0123456789abcdef01234567/leads${longQuery}`, `/healthz${longQuery}`]) {
      const res = await api.get<ErrorResponse>(path);
      expect([res.status, res.body.error?.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    }
    const header = await api.get<ErrorResponse>('/v1/me', { headers: { 'x-filler': 'y'.repeat(20_000) } });
    expect([header.status, header.body.error?.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    // Bytes that are not HTTP at all.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(head).toMatch(/content-type: application\/json/i);
    expect((JSON.parse(body) as ErrorResponse).error.code).toBe('BAD_REQUEST');
    expect(errorLines(server).slice(before)).toEqual([]);
  });

  it('still decode a well-formed gzip body', async () => {
    const res = await fetch(`${server.url}/v1/projects/0123456789abcdef01234567/auth/anonymous`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(Buffer.from('{}')),
    });
    // Parsed and then refused for the project, which does not exist: not a 400.
    expect(res.status).toBe(404);
  });
});
