import { io } from 'socket.io-client';
import type { ErrorResponse, MeResponse, VisitorAuthResponse } from '@parley/protocol';
import { anonymousVisitor, createAgent, createProject } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';
import { startSharedMongo, type SharedMongo } from './support/mongo-process';
import { startRedis, type RedisProcess } from './support/redis-process';
import {
  command,
  connectAgent,
  connectVisitor,
  ok,
  refusedHandshake,
  waitConnected,
  type VisitorClientSocket,
} from './support/sockets';
import { waitFor } from './support/wait';

/** Tries handshakes until one is accepted (a slot given back on another node arrives a bit later). */
async function connectOnceFree(url: string, token: string): Promise<VisitorClientSocket> {
  let accepted: VisitorClientSocket | undefined;
  await waitFor(
    'a free slot',
    async () => {
      try {
        accepted = await connectVisitor(url, token);
        return true;
      } catch {
        return false;
      }
    },
    { intervalMs: 200, timeoutMs: 25_000 },
  );
  if (!accepted) throw new Error('not connected');
  return accepted;
}

/**
 * Asks for a visitor socket and closes the connection in the same breath, over HTTP long-polling
 * by hand: one request carries the namespace's CONNECT and engine.io's close, so the connection is
 * gone while the server is still running the handshake's checks, and the socket never connects.
 */
async function leaveMidHandshake(url: string, token: string): Promise<void> {
  const opened = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
  const { sid } = JSON.parse((await opened.text()).slice(1)) as { sid: string };
  const sent = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8' },
    // `4` message + `0` CONNECT to /visitor with its auth, then `1` close; \x1e separates packets.
    body: `40/visitor,${JSON.stringify({ token })}\x1e1`,
  });
  expect(await sent.text()).toBe('ok');
}

describe('open sockets are capped per visitor and per address', () => {
  let server: ParleyProcess;
  const open: { close(): void }[] = [];
  beforeAll(async () => {
    server = await startParley({ env: { SOCKETS_PER_USER: '3', SOCKETS_PER_ADDRESS: '5' } });
  });
  afterEach(() => {
    for (const socket of open.splice(0)) socket.close();
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
  });

  it('refuses a visitor its fourth socket with RATE_LIMITED, and takes one again once a tab closes', async () => {
    const { project } = await createProject(server.url);
    const visitor = await anonymousVisitor(server.url, project.id);
    for (let i = 0; i < 3; i++) open.push(await connectVisitor(server.url, visitor.token));
    const refused = await refusedHandshake(server.url, '/visitor', visitor.token);
    expect(refused.message).toBe('RATE_LIMITED');
    expect(refused.data?.code).toBe('RATE_LIMITED');

    open.shift()?.close();
    open.push(await connectOnceFree(server.url, visitor.token));
  });

  it('gives a slot back when a tab leaves a connection it shares with a console, and when a client leaves mid-handshake', async () => {
    const { project } = await createProject(server.url);
    const visitor = await anonymousVisitor(server.url, project.id);
    const agent = await createAgent(server.url, project.id);
    // One connection carrying a visitor tab and an agent console: the tab leaves, the connection stays.
    const tab = io(`${server.url}/visitor`, {
      auth: { token: visitor.token },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    const console_ = tab.io.socket('/agent', { auth: { token: agent.token } });
    console_.connect();
    open.push(tab, console_);
    await Promise.all([waitConnected(tab), waitConnected(console_)]);
    tab.disconnect();
    expect(console_.connected).toBe(true);
    for (let i = 0; i < 3; i++) await leaveMidHandshake(server.url, visitor.token);

    // All three of the visitor's slots are free again, and the cap still holds.
    for (let i = 0; i < 3; i++) open.push(await connectOnceFree(server.url, visitor.token));
    expect((await refusedHandshake(server.url, '/visitor', visitor.token)).data?.code).toBe('RATE_LIMITED');
  }, 90_000);

  it('refuses sockets beyond the cap of one address, whichever visitor or agent they are for', async () => {
    const { project } = await createProject(server.url);
    for (let i = 0; i < 5; i++) {
      const visitor = await anonymousVisitor(server.url, project.id);
      open.push(await connectVisitor(server.url, visitor.token));
    }
    const another = await anonymousVisitor(server.url, project.id);
    // A forwarded address is not believed without TRUST_PROXY.
    const refused = await refusedHandshake(server.url, '/visitor', another.token, {
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    expect(refused.data?.code).toBe('RATE_LIMITED');
    const agent = await createAgent(server.url, project.id);
    expect((await refusedHandshake(server.url, '/agent', agent.token)).data?.code).toBe('RATE_LIMITED');
  });
});

describe('socket caps across nodes sharing Redis', () => {
  let mongo: SharedMongo;
  let redis: RedisProcess;
  let first: ParleyProcess;
  let second: ParleyProcess;
  const open: { close(): void }[] = [];
  beforeAll(async () => {
    [mongo, redis] = await Promise.all([startSharedMongo(), startRedis()]);
    const env = { MONGODB_URI: mongo.uri, REDIS_URL: redis.url, SOCKETS_PER_USER: '2', SOCKETS_PER_ADDRESS: '1000' };
    [first, second] = await Promise.all([startParley({ env }), startParley({ env })]);
  });
  afterAll(async () => {
    for (const socket of open.splice(0)) socket.close();
    await Promise.all([first?.stop(), second?.stop()]);
    first?.cleanup();
    second?.cleanup();
    await Promise.all([redis?.stop(), mongo?.stop()]);
  });

  it('gives a closed tab its slot back on every node', async () => {
    const { project } = await createProject(first.url);
    const visitor = await anonymousVisitor(first.url, project.id);
    const tabs = [await connectVisitor(first.url, visitor.token), await connectVisitor(second.url, visitor.token)];
    expect((await refusedHandshake(first.url, '/visitor', visitor.token)).data?.code).toBe('RATE_LIMITED');
    tabs.shift()?.close();
    open.push(...tabs, await connectOnceFree(second.url, visitor.token));
    expect((await refusedHandshake(first.url, '/visitor', visitor.token)).data?.code).toBe('RATE_LIMITED');
  }, 60_000);

  it('counts a visitor on every node, and frees the slots of a node that died', async () => {
    const { project } = await createProject(first.url);
    const visitor = await anonymousVisitor(first.url, project.id);
    open.push(await connectVisitor(first.url, visitor.token));
    open.push(await connectVisitor(second.url, visitor.token));
    expect((await refusedHandshake(first.url, '/visitor', visitor.token)).data?.code).toBe('RATE_LIMITED');
    expect((await refusedHandshake(second.url, '/visitor', visitor.token)).data?.code).toBe('RATE_LIMITED');

    // The first node dies without a word: its socket's slot must not stay taken forever.
    await first.kill();
    open.push(await connectOnceFree(second.url, visitor.token));
    expect((await refusedHandshake(second.url, '/visitor', visitor.token)).data?.code).toBe('RATE_LIMITED');
  }, 60_000);
});

describe('session:renew', () => {
  let server: ParleyProcess;
  beforeAll(async () => {
    server = await startParley({ env: { RATE_LIMIT_COMMANDS_PER_MINUTE: '3' } });
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
  });

  it('counts against the command budget of the visitor', async () => {
    const { project } = await createProject(server.url);
    const visitor = await anonymousVisitor(server.url, project.id);
    const socket = await connectVisitor(server.url, visitor.token);
    try {
      const renewed = await client(server.url).post<VisitorAuthResponse>('/v1/auth/refresh', {
        token: visitor.token,
        body: {},
      });
      expect(renewed.status).toBe(200);
      for (let i = 0; i < 3; i++) await ok(socket, 'conversation:list', {});
      const refused = await command(socket, 'session:renew', { token: renewed.body.token });
      expect(refused).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
    } finally {
      socket.close();
    }
  });

  it('counts against the command budget of the agent', async () => {
    const { project } = await createProject(server.url);
    const agent = await createAgent(server.url, project.id);
    const socket = await connectAgent(server.url, agent.token);
    try {
      const responses = [];
      for (let i = 0; i < 5; i++) responses.push(await command(socket, 'session:renew', { token: agent.token }));
      expect(responses.filter((r) => !r.ok).map((r) => !r.ok && r.error.code)).toEqual([
        'RATE_LIMITED',
        'RATE_LIMITED',
      ]);
    } finally {
      socket.close();
    }
  });
});

describe("a project's allowed origins", () => {
  let server: ParleyProcess;
  beforeAll(async () => {
    server = await startParley({ env: { CORS_ORIGINS: 'https://console.example' } });
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
  });

  it('apply to /auth/refresh and /me for visitors, and CORS_ORIGINS for agents', async () => {
    const { project } = await createProject(server.url, { allowedOrigins: ['https://shop.example'] });
    const visitor = await anonymousVisitor(server.url, project.id);
    const api = client(server.url);
    const as = (token: string, origin: string) => ({ token, headers: { origin } });

    const stolen = await api.post<ErrorResponse>('/v1/auth/refresh', {
      ...as(visitor.token, 'https://evil.example'),
      body: {},
    });
    expect([stolen.status, stolen.body.error?.code]).toEqual([403, 'FORBIDDEN']);
    const peek = await api.get<ErrorResponse>('/v1/me', as(visitor.token, 'https://evil.example'));
    expect([peek.status, peek.body.error?.code]).toEqual([403, 'FORBIDDEN']);

    expect(
      (await api.post('/v1/auth/refresh', { ...as(visitor.token, 'https://shop.example'), body: {} })).status,
    ).toBe(200);
    expect((await api.get<MeResponse>('/v1/me', as(visitor.token, 'https://shop.example'))).status).toBe(200);
    // Servers and native apps send no Origin.
    expect((await api.get('/v1/me', { token: visitor.token })).status).toBe(200);

    const agent = await createAgent(server.url, project.id);
    expect((await api.get('/v1/me', as(agent.token, 'https://shop.example'))).status).toBe(403);
    expect((await api.get('/v1/me', as(agent.token, 'https://console.example'))).status).toBe(200);
  });
});
