import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { ErrorResponse, SecretRotatedResponse, VisitorAuthResponse, WidgetConfig } from '@parley/protocol';
import { startDatabase, type TestDatabase } from './support/database';
import { anonymousVisitor, createAgent, createProject } from './support/fixtures';
import { client } from './support/http';
import { metricValue } from './support/metric-value';
import { startParley, TEST_ADMIN_TOKEN, type ParleyProcess } from './support/parley-process';
import { connectVisitor, EventLog, refusedHandshake } from './support/sockets';
import { waitFor } from './support/wait';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const now = () => Math.floor(Date.now() / 1000);

describe('visitor sign-in', () => {
  let database: TestDatabase;
  let server: ParleyProcess;
  beforeAll(async () => {
    database = await startDatabase();
    server = await startParley({ env: { MONGODB_URI: database.uri } });
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
    await database.stop();
  });

  it('mints a fresh UUID v4 per anonymous sign-in, in a token that opens /visitor', async () => {
    const { project } = await createProject(server.url);
    const a = await anonymousVisitor(server.url, project.id);
    const b = await anonymousVisitor(server.url, project.id);
    expect(a.user).toEqual({ id: expect.stringMatching(UUID_V4), kind: 'anonymous' });
    expect(b.user.id).toMatch(UUID_V4);
    expect(a.user.id).not.toBe(b.user.id);
    const claims = jwt.decode(a.token, { complete: true });
    expect(claims?.header).toMatchObject({ alg: 'HS256', kid: expect.any(String) });
    expect(claims?.payload).toMatchObject({ sub: a.user.id, pid: project.id, iss: 'parley', aud: 'parley:visitor' });
    const lifetime = Date.parse(a.expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(89 * 86400_000);
    expect(lifetime).toBeLessThanOrEqual(90 * 86400_000);
    const socket = await connectVisitor(server.url, a.token);
    socket.close();
  });

  it('answers 404 for an unknown project and refuses a body', async () => {
    const api = client(server.url);
    const missing = await api.post<ErrorResponse>('/v1/projects/nope/auth/anonymous', { body: {} });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    const { project } = await createProject(server.url);
    const chosen = await api.post<ErrorResponse>(`/v1/projects/${project.id}/auth/anonymous`, {
      body: { userId: 'i-choose-my-own-id' },
    });
    expect(chosen.status).toBe(400);
  });

  it('serves the widget configuration publicly', async () => {
    const { project } = await createProject(server.url, { name: 'Widgets Inc' });
    const widget = await client(server.url).get<WidgetConfig>(`/v1/projects/${project.id}/widget`);
    expect(widget.status).toBe(200);
    expect(widget.body).toEqual({
      projectId: project.id,
      name: 'Widgets Inc',
      preChatForm: project.preChatForm,
      // Nobody of a new project is online; without business hours it is always within them.
      availability: { available: false, withinHours: true, agentsOnline: false, askForEmail: false },
    });
  });

  it('refreshes a valid visitor token for the same user', async () => {
    const { project } = await createProject(server.url);
    const visitor = await anonymousVisitor(server.url, project.id);
    const refreshed = await client(server.url).post<VisitorAuthResponse>('/v1/auth/refresh', {
      token: visitor.token,
      body: {},
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.user).toEqual(visitor.user);
    expect(jwt.decode(refreshed.body.token)).toMatchObject({ sub: visitor.user.id, pid: project.id });
    const me = await client(server.url).get<{ kind: string; user: { id: string } }>('/v1/me', {
      token: refreshed.body.token,
    });
    expect(me.body).toMatchObject({ kind: 'visitor', projectId: project.id, user: visitor.user });
  });

  describe('refuses bad tokens on REST and on sockets', () => {
    let projectId: string;
    let otherProjectId: string;
    let valid: VisitorAuthResponse;
    beforeAll(async () => {
      projectId = (await createProject(server.url)).project.id;
      otherProjectId = (await createProject(server.url)).project.id;
      valid = await anonymousVisitor(server.url, projectId);
    });

    const forge = (
      change: (payload: Record<string, unknown>, header: Record<string, unknown>) => void,
      secret = 'test-jwt-secret-0123456789abcdef0123456789',
    ) => {
      const decoded = jwt.decode(valid.token, { complete: true });
      const payload = { ...(decoded?.payload as Record<string, unknown>) };
      const header = { ...(decoded?.header as unknown as Record<string, unknown>) };
      change(payload, header);
      return jwt.sign(payload, secret, { algorithm: 'HS256', header: header as unknown as jwt.JwtHeader });
    };

    const cases: [string, () => string | undefined][] = [
      ['missing', () => undefined],
      ['garbage', () => 'not.a.token'],
      ['forged', () => forge(() => undefined, 'a-different-secret-of-enough-length')],
      [
        'expired',
        () =>
          forge((p) => {
            p['exp'] = now() - 60;
            p['iat'] = now() - 120;
          }),
      ],
      [
        'alg none',
        () => {
          const [, body] = valid.token.split('.');
          return `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${body}.`;
        },
      ],
      [
        // With the server's own kid, so that only the algorithm pinning can refuse it.
        'alg none with a valid kid',
        () => {
          const decoded = jwt.decode(valid.token, { complete: true });
          const header = { alg: 'none', typ: 'JWT', kid: decoded?.header.kid };
          const [, body] = valid.token.split('.');
          return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${body}.`;
        },
      ],
      [
        'HS512 with the right secret',
        () => {
          const decoded = jwt.decode(valid.token, { complete: true });
          return jwt.sign(decoded?.payload as object, 'test-jwt-secret-0123456789abcdef0123456789', {
            algorithm: 'HS512',
            keyid: decoded?.header.kid ?? '',
          });
        },
      ],
      [
        'wrong audience',
        () =>
          forge((p) => {
            p['aud'] = 'parley:agent';
          }),
      ],
      [
        'wrong issuer',
        () =>
          forge((p) => {
            p['iss'] = 'evil';
          }),
      ],
    ];

    it.each(cases)('%s token: 401 on REST, UNAUTHORIZED on /visitor', async (_name, make) => {
      const token = make();
      const res = await client(server.url).post<ErrorResponse>('/v1/auth/refresh', {
        ...(token ? { token } : {}),
        body: {},
      });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHORIZED');
      const refused = await refusedHandshake(server.url, '/visitor', token);
      expect(refused.message).toBe('UNAUTHORIZED');
      expect(refused.data).toMatchObject({ code: 'UNAUTHORIZED', message: expect.any(String) });
    });

    it('a visitor token never opens /agent, an agent token never opens /visitor', async () => {
      const other = await anonymousVisitor(server.url, otherProjectId);
      const agent = await createAgent(server.url, projectId);
      const asAgent = await refusedHandshake(server.url, '/agent', other.token);
      expect(asAgent.message).toBe('UNAUTHORIZED');
      // An agent token does not open the visitor namespace.
      const agentAsVisitor = await refusedHandshake(server.url, '/visitor', agent.token);
      expect(agentAsVisitor.message).toBe('UNAUTHORIZED');
    });
  });

  describe('verified visitors', () => {
    const sign = (claims: Record<string, unknown>, secret: string) => jwt.sign(claims, secret, { algorithm: 'HS256' });

    it("signs in with the customer's user id and writes profile claims to the lead", async () => {
      const { project, secret } = await createProject(server.url);
      const token = sign(
        {
          sub: 'customer-user-7',
          exp: now() + 300,
          email: 'Grace@Navy.MIL ',
          fullname: 'Grace Hopper',
          attributes: { plan: 'pro' },
        },
        secret,
      );
      const res = await client(server.url).post<VisitorAuthResponse>(`/v1/projects/${project.id}/auth/verified`, {
        body: { token },
      });
      expect(res.status).toBe(201);
      expect(res.body.user).toEqual({ id: 'customer-user-7', kind: 'verified' });
      const lead = await database.db.collection('leads').findOne({ projectId: project.id, userId: 'customer-user-7' });
      expect(lead).toMatchObject({
        kind: 'verified',
        email: 'grace@navy.mil',
        fullname: 'Grace Hopper',
        attributes: { plan: 'pro' },
      });

      // The same user from another browser (another sign-in) is the same lead.
      const again = await client(server.url).post<VisitorAuthResponse>(`/v1/projects/${project.id}/auth/verified`, {
        body: { token: sign({ sub: 'customer-user-7', exp: now() + 300, lastname: 'Hopper' }, secret) },
      });
      expect(again.status).toBe(201);
      const leads = await database.db.collection('leads').find({ projectId: project.id }).toArray();
      expect(leads).toHaveLength(1);
      expect(leads[0]).toMatchObject({ fullname: 'Grace Hopper', lastname: 'Hopper' });
    });

    it.each([
      ['without exp', (secret: string) => sign({ sub: 'u1' }, secret)],
      ['without sub', (secret: string) => sign({ exp: now() + 60 }, secret)],
      ['living longer than allowed', (secret: string) => sign({ sub: 'u1', exp: now() + 3 * 3600 }, secret)],
      ['expired', (secret: string) => sign({ sub: 'u1', exp: now() - 3600 }, secret)],
      [
        'signed with a wrong secret',
        () => sign({ sub: 'u1', exp: now() + 60 }, 'ps_not-the-project-secret-000000000000'),
      ],
    ])('refuses a customer token %s', async (_name, make) => {
      const { project, secret } = await createProject(server.url);
      const res = await client(server.url).post<ErrorResponse>(`/v1/projects/${project.id}/auth/verified`, {
        body: { token: make(secret) },
      });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHORIZED');
    });

    it("refuses a token signed with another project's secret", async () => {
      const mine = await createProject(server.url);
      const theirs = await createProject(server.url);
      const res = await client(server.url).post<ErrorResponse>(`/v1/projects/${mine.project.id}/auth/verified`, {
        body: { token: sign({ sub: 'u1', exp: now() + 60 }, theirs.secret) },
      });
      expect(res.status).toBe(401);
    });

    it('verifies with both secrets during a rotation', async () => {
      const { project, secret: oldSecret } = await createProject(server.url);
      const rotated = await client(server.url).post<{ secret: string }>(
        `/v1/admin/projects/${project.id}/secret/rotate`,
        {
          token: TEST_ADMIN_TOKEN,
        },
      );
      for (const secret of [oldSecret, rotated.body.secret]) {
        const res = await client(server.url).post(`/v1/projects/${project.id}/auth/verified`, {
          body: { token: sign({ sub: 'rotating-user', exp: now() + 60 }, secret) },
        });
        expect(res.status).toBe(201);
      }
    });
  });

  describe('allowed origins', () => {
    it('accepts listed origins and requests without one, refuses other websites', async () => {
      const { project } = await createProject(server.url, { allowedOrigins: ['https://shop.example'] });
      const api = client(server.url);
      const path = `/v1/projects/${project.id}/auth/anonymous`;
      const allowed = await api.post(path, { body: {}, headers: { origin: 'https://shop.example' } });
      expect(allowed.status).toBe(201);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example');
      expect((await api.post(path, { body: {} })).status).toBe(201);
      const refused = await api.post<ErrorResponse>(path, { body: {}, headers: { origin: 'https://evil.example' } });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('FORBIDDEN');

      const visitor = allowed.body as VisitorAuthResponse;
      const socket = await refusedHandshake(server.url, '/visitor', visitor.token, {
        headers: { origin: 'https://evil.example' },
      });
      expect(socket.message).toBe('FORBIDDEN');
      const ok = await connectVisitor(server.url, visitor.token, { headers: { origin: 'https://shop.example' } });
      ok.close();
    });
  });
});

describe('token lifetimes', () => {
  it('disconnects a socket when its token expires', async () => {
    const server = await startParley({ env: { VISITOR_TOKEN_TTL: '2s' } });
    try {
      const { project } = await createProject(server.url);
      const visitor = await anonymousVisitor(server.url, project.id);
      const socket = await connectVisitor(server.url, visitor.token);
      const log = new EventLog(socket);
      const open = () => metricValue(server.url, 'parley_socket_connections', { namespace: '/visitor' });
      const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      expect(await open()).toBe(1);
      const reason = await closed;
      expect(reason).toBe('io server disconnect');
      expect(log.names()).toContain('session.expiring');
      // The socket the server closed is counted out of the open connections.
      await waitFor('the connection gauge to drop', async () => (await open()) === 0);
      const again = await refusedHandshake(server.url, '/visitor', visitor.token);
      expect(again.message).toBe('UNAUTHORIZED');
    } finally {
      await server.stop();
      server.cleanup();
    }
  });

  it('keeps a socket open past the first token when it renews it', async () => {
    const server = await startParley({ env: { VISITOR_TOKEN_TTL: '4s' } });
    try {
      const { project } = await createProject(server.url);
      const visitor = await anonymousVisitor(server.url, project.id);
      const socket = await connectVisitor(server.url, visitor.token);
      const log = new EventLog(socket);
      const first = jwt.decode(visitor.token) as { iat: number; exp: number };
      // Tokens count in whole seconds: refreshed within the second it was issued, the new one
      // would expire with the first.
      await waitFor('the second after the first token was issued', () => now() > first.iat);
      const refreshed = await client(server.url).post<VisitorAuthResponse>('/v1/auth/refresh', {
        token: visitor.token,
        body: {},
      });
      const second = jwt.decode(refreshed.body.token) as { exp: number };
      expect(second.exp).toBeGreaterThan(first.exp);
      const renewed = await new Promise<{ ok: boolean }>((resolve) =>
        socket.emit('session:renew', { token: refreshed.body.token }, resolve as never),
      );
      expect(renewed.ok).toBe(true);
      // The server closes the socket when its deadline passes, saying which deadline it was: the
      // renewed token's, never the first one's, and never before the first one's had passed.
      let closedAt = 0;
      const reason = await new Promise<string>((resolve) =>
        socket.once('disconnect', (why) => {
          closedAt = Date.now();
          resolve(why);
        }),
      );
      expect(reason).toBe('io server disconnect');
      expect(log.of('session.expiring')).toEqual([{ expiresAt: new Date(second.exp * 1000).toISOString() }]);
      expect(closedAt).toBeGreaterThan(first.exp * 1000);
      socket.close();
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
});

describe('rate limits', () => {
  it('limits anonymous sign-ins per address with 429 and Retry-After', async () => {
    const server = await startParley({ env: { RATE_LIMIT_ANONYMOUS_PER_MINUTE: '3' } });
    try {
      const { project } = await createProject(server.url);
      const api = client(server.url);
      const statuses: number[] = [];
      let last;
      for (let i = 0; i < 5; i++) {
        last = await api.post<ErrorResponse>(`/v1/projects/${project.id}/auth/anonymous`, { body: {} });
        statuses.push(last.status);
      }
      expect(statuses).toEqual([201, 201, 201, 429, 429]);
      expect(last?.body.error.code).toBe('RATE_LIMITED');
      expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
});

describe('signing keys', () => {
  it('signs and verifies with an ES256 key pair from the environment, and refuses HS256 tokens then', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const server = await startParley({
      env: {
        JWT_ALGORITHM: 'ES256',
        JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().replace(/\n/g, '\\n'),
        JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      },
    });
    try {
      const { project } = await createProject(server.url);
      const visitor = await anonymousVisitor(server.url, project.id);
      expect(jwt.decode(visitor.token, { complete: true })?.header.alg).toBe('ES256');
      const socket = await connectVisitor(server.url, visitor.token);
      socket.close();
      // The same claims as HS256 with the old default secret: the algorithm is pinned.
      const decoded = jwt.decode(visitor.token, { complete: true });
      const hs = jwt.sign(decoded?.payload as object, 'test-jwt-secret-0123456789abcdef0123456789', {
        algorithm: 'HS256',
        keyid: decoded?.header.kid ?? '',
      });
      expect((await refusedHandshake(server.url, '/visitor', hs)).message).toBe('UNAUTHORIZED');
    } finally {
      await server.stop();
      server.cleanup();
    }
  });

  it('keeps tokens of the previous JWT_SECRET valid during a rotation, and only then', async () => {
    const first = await startParley();
    let token: string;
    let projectId: string;
    try {
      projectId = (await createProject(first.url)).project.id;
      token = (await anonymousVisitor(first.url, projectId)).token;
    } finally {
      await first.stop();
    }
    const previous = first.env['JWT_SECRET'] ?? '';
    const rotated = await startParley({
      dataDir: first.dataDir,
      env: { ...first.env, JWT_SECRET: 'the-next-jwt-secret-0123456789abcdef012345', JWT_PREVIOUS_SECRET: previous },
    });
    try {
      const refreshed = await client(rotated.url).post<VisitorAuthResponse>('/v1/auth/refresh', { token, body: {} });
      expect(refreshed.status).toBe(200);
      (await connectVisitor(rotated.url, refreshed.body.token)).close();
    } finally {
      await rotated.stop();
    }
    const done = await startParley({
      dataDir: first.dataDir,
      env: { ...first.env, JWT_SECRET: 'the-next-jwt-secret-0123456789abcdef012345' },
    });
    try {
      expect((await refusedHandshake(done.url, '/visitor', token)).message).toBe('UNAUTHORIZED');
    } finally {
      await done.stop();
      first.cleanup();
    }
    // Three server starts one after another.
  }, 90_000);

  it("stops verifying a project's previous secret when its grace period ends", async () => {
    const server = await startParley({ env: { SECRET_ROTATION_GRACE: '2s' } });
    try {
      const { project, secret } = await createProject(server.url);
      const api = client(server.url);
      const signIn = () =>
        api.post(`/v1/projects/${project.id}/auth/verified`, {
          body: { token: jwt.sign({ sub: 'graceful', exp: now() + 60 }, secret) },
        });
      const rotated = await api.post<SecretRotatedResponse>(`/v1/admin/projects/${project.id}/secret/rotate`, {
        token: TEST_ADMIN_TOKEN,
      });
      expect((await signIn()).status).toBe(201);
      // Not a fixed wait: until the end of the grace period the rotation answered with.
      const graceEnd = Date.parse(rotated.body.previousSecretExpiresAt);
      await waitFor('the grace period to end', () => Date.now() > graceEnd);
      expect((await signIn()).status).toBe(401);
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
});
