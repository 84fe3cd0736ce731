import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { ParleyError } from '../src/errors';
import { SocketSession, socketTarget, type ConnectionStatus } from '../src/socket-session';
import { Timers } from '../src/timers';

/**
 * How a session reacts to the ways a handshake can be refused, against a real Socket.IO server
 * whose middleware answers as Parley's does (`message` = code, `data` = { code, message }).
 */
describe('SocketSession handshake refusals', () => {
  let http: HttpServer;
  let io: Server;
  let url: string;
  /** What the middleware answers to the next handshakes, in order; then it accepts. */
  let refusals: { code: string; token?: string }[] = [];
  let accepted: string[] = [];
  const sessions: SocketSession<'/visitor'>[] = [];
  const timers: Timers[] = [];

  beforeAll(async () => {
    http = createServer();
    io = new Server(http);
    io.of('/visitor').use((socket, next) => {
      const token = String((socket.handshake.auth as { token?: unknown }).token);
      const refusal = refusals[0];
      if (refusal && (refusal.token === undefined || refusal.token === token)) {
        refusals.shift();
        return next(Object.assign(new Error(refusal.code), { data: { code: refusal.code, message: 'refused' } }));
      }
      accepted.push(token);
      next();
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    sessions.splice(0).forEach((s) => s.close());
    timers.splice(0).forEach((t) => t.close());
    refusals = [];
    accepted = [];
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => io.close(() => resolve()));
  });

  function open(
    onUnauthorized: () => Promise<void>,
    token: () => string = () => 'good',
    options: { url?: string; offlineAfterMs?: number } = {},
  ) {
    const fatal: ParleyError[] = [];
    const statuses: ConnectionStatus[] = [];
    const clock = new Timers();
    timers.push(clock);
    const session = new SocketSession({
      url: options.url ?? url,
      namespace: '/visitor',
      token,
      transports: ['websocket'],
      timers: clock,
      ...(options.offlineAfterMs ? { offlineAfterMs: options.offlineAfterMs } : {}),
      onStatus: (s) => statuses.push(s),
      onConnect: () => undefined,
      onUnauthorized,
      onFatal: (e) => fatal.push(e),
    });
    sessions.push(session);
    session.connect();
    return { session, fatal, statuses };
  }

  /** Resolves once connected, or rejects with the fatal error the session reported. */
  async function outcome(s: { session: SocketSession<'/visitor'>; fatal: ParleyError[] }): Promise<'connected'> {
    for (let i = 0; i < 600; i++) {
      if (s.session.connected) return 'connected';
      const [fatal] = s.fatal;
      if (fatal) throw fatal;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('neither connected nor given up');
  }

  it('fetches a new token when the server refuses the current one', async () => {
    let token = 'stale';
    refusals = [{ code: 'UNAUTHORIZED', token: 'stale' }];
    const s = open(
      async () => void (token = 'fresh'),
      () => token,
    );
    await expect(outcome(s)).resolves.toBe('connected');
    expect(accepted).toEqual(['fresh']);
  });

  it('keeps trying when a new token cannot be fetched because the server is down', async () => {
    let token = 'stale';
    let attempts = 0;
    refusals = [{ code: 'UNAUTHORIZED', token: 'stale' }];
    const s = open(
      async () => {
        // The refresh endpoint is unreachable twice (a restart), then answers.
        if (++attempts <= 2) throw new ParleyError('UNAVAILABLE', 'Cannot reach the server');
        token = 'fresh';
      },
      () => token,
    );
    await expect(outcome(s)).resolves.toBe('connected');
    expect(attempts).toBe(3);
    expect(s.fatal).toEqual([]);
  });

  it('keeps trying when the server cannot decide on the handshake (UNAVAILABLE, INTERNAL)', async () => {
    refusals = [{ code: 'UNAVAILABLE' }, { code: 'INTERNAL' }];
    const s = open(async () => undefined);
    await expect(outcome(s)).resolves.toBe('connected');
    expect(refusals).toEqual([]);
    expect(s.fatal).toEqual([]);
  });

  it('gives up on a refusal that retrying cannot change', async () => {
    refusals = [{ code: 'FORBIDDEN' }];
    const s = open(async () => undefined);
    await expect(outcome(s)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(s.session.currentStatus).toBe('offline');
  });

  it('gives up when fresh tokens keep being refused', async () => {
    refusals = Array.from({ length: 10 }, () => ({ code: 'UNAUTHORIZED' }));
    let refreshes = 0;
    const s = open(async () => void refreshes++);
    await expect(outcome(s)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(refreshes).toBe(3);
  });

  it('gives up when the credentials themselves are refused', async () => {
    refusals = [{ code: 'UNAUTHORIZED' }];
    const s = open(async () => {
      throw new ParleyError('UNAUTHORIZED', 'wrong password');
    });
    await expect(outcome(s)).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: 'wrong password' });
  });

  it('once refused for good, rejects at once whoever waits for the connection and every later call', async () => {
    refusals = [{ code: 'FORBIDDEN' }];
    const s = open(async () => undefined);
    // Waiting since before the refusal: a send in an outbox, a `ready` promise.
    const waiting = s.session.whenOnline();
    await expect(waiting).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(s.session.call('conversation:list', {})).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(s.session.whenOnline()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(s.session.fatal?.retryable).toBe(false);
    expect(s.session.socket.active).toBe(false);
    expect(s.fatal).toHaveLength(1);
  });

  it('reports offline once it has been trying to connect for offlineAfterMs', async () => {
    // A port nobody listens on: every attempt fails at the network level, and Socket.IO keeps trying.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const s = open(async () => undefined, undefined, { url: `http://127.0.0.1:${port}`, offlineAfterMs: 400 });
    s.session.announce();
    for (let i = 0; i < 200 && !s.statuses.includes('offline'); i++) await new Promise((r) => setTimeout(r, 25));
    expect(s.statuses).toEqual(['connecting', 'offline']);
    expect(s.session.socket.active).toBe(true); // still trying in the background
    expect(s.fatal).toEqual([]);
  });

  it('connects under the path prefix of its URL', () => {
    expect(socketTarget('https://example.com/chat', '/visitor')).toEqual({
      uri: 'https://example.com/visitor',
      path: '/chat/socket.io',
    });
    expect(socketTarget('https://example.com', '/agent')).toEqual({
      uri: 'https://example.com/agent',
      path: '/socket.io',
    });
    expect(socketTarget('https://example.com/chat', '/agent', '/ws')).toEqual({
      uri: 'https://example.com/agent',
      path: '/ws',
    });
  });
});
