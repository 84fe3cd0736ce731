import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentLoginResponse, ErrorResponse, ProjectCreatedResponse } from '@parley/protocol';
import { client } from './support/http';
import { startParley, TEST_ADMIN_TOKEN, type ParleyProcess } from './support/parley-process';
import { SERVER_MAIN } from './support/paths';
import { makeTempDir, removeDir } from './support/temp-dir';

const admin = { token: TEST_ADMIN_TOKEN };

describe('a server on embedded defaults', () => {
  let server: ParleyProcess;
  beforeAll(async () => {
    server = await startParley();
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
  });

  it('is live and ready', async () => {
    const api = client(server.url);
    expect((await api.get('/healthz')).status).toBe(200);
    const ready = await api.get<{ status: string; checks: Record<string, string> }>('/readyz');
    expect(ready.status).toBe(200);
    // With REDIS_URL set, every test server also uses that Redis (see support/parley-process.ts).
    const redis = server.env['REDIS_URL'] ? { redis: 'ok' } : {};
    expect(ready.body).toEqual({ status: 'ok', checks: { database: 'ok', ...redis } });
  });

  it('serves Prometheus metrics', async () => {
    const metrics = await client(server.url).get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(metrics.text).toContain('parley_socket_connections');
    expect(metrics.text).toContain('parley_http_request_duration_seconds');
  });

  it('creates projects and agents through the admin API', async () => {
    const api = client(server.url);
    const created = await api.post<ProjectCreatedResponse>('/v1/admin/projects', {
      ...admin,
      body: { name: 'Acme', allowedOrigins: ['https://acme.test'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.project).toMatchObject({ name: 'Acme', allowedOrigins: ['https://acme.test'] });
    expect(created.body.project.preChatForm.enabled).toBe(true);
    expect(created.body.secret).toMatch(/^ps_.{40,}/);

    const agent = await api.post<{ agent: { email: string; role: string; projectId: string } }>(
      `/v1/admin/projects/${created.body.project.id}/agents`,
      {
        ...admin,
        body: { email: ' Owner@Acme.TEST ', password: 'long enough password', name: 'Owner', role: 'owner' },
      },
    );
    expect(agent.status).toBe(201);
    expect(agent.body.agent).toMatchObject({
      email: 'owner@acme.test',
      role: 'owner',
      projectId: created.body.project.id,
    });
    expect(JSON.stringify(agent.body)).not.toContain('password');

    const again = await api.post<ErrorResponse>(`/v1/admin/projects/${created.body.project.id}/agents`, {
      ...admin,
      body: { email: 'owner@acme.test', password: 'another long password', name: 'Twin' },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CONFLICT');
  });

  it('rotates a project secret', async () => {
    const api = client(server.url);
    const { body } = await api.post<ProjectCreatedResponse>('/v1/admin/projects', {
      ...admin,
      body: { name: 'Rotating' },
    });
    const rotated = await api.post<{ secret: string; previousSecretExpiresAt: string }>(
      `/v1/admin/projects/${body.project.id}/secret/rotate`,
      admin,
    );
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(body.secret);
    expect(Date.parse(rotated.body.previousSecretExpiresAt)).toBeGreaterThan(Date.now());
  });

  it('refuses the admin API without the admin token', async () => {
    const api = client(server.url);
    const none = await api.post<ErrorResponse>('/v1/admin/projects', { body: { name: 'x' } });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHORIZED');
    const wrong = await api.post<ErrorResponse>('/v1/admin/projects', { token: 'not-the-token', body: { name: 'x' } });
    expect(wrong.status).toBe(401);
  });

  it('answers bad input in the protocol error shape, naming each bad field', async () => {
    const api = client(server.url);
    const bad = await api.post<ErrorResponse>('/v1/admin/projects', {
      ...admin,
      body: { name: '', allowedOrigins: ['javascript:alert(1)'], extra: true },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BAD_REQUEST');
    const fields = (bad.body.error.details?.fields ?? []).map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['name', 'allowedOrigins.0', '(payload)']));

    const malformed = await api.post<ErrorResponse>('/v1/admin/projects', { ...admin, rawBody: '{"name": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('BAD_REQUEST');

    const huge = await api.post<ErrorResponse>('/v1/admin/projects', { ...admin, body: { name: 'x'.repeat(100_000) } });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');

    const missing = await api.get<ErrorResponse>('/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');

    const unknownProject = await api.get<ErrorResponse>('/v1/admin/projects/does-not-exist', admin);
    expect(unknownProject.status).toBe(404);

    for (const res of [bad, malformed, huge, missing, unknownProject]) {
      expect(res.text).not.toMatch(/at .+\.js:\d+/);
      expect(res.text).not.toContain('Mongo');
    }
  });
});

describe('durability', () => {
  it('finds projects and agents again after a SIGKILL and a restart on the same DATA_DIR', async () => {
    const dataDir = makeTempDir();
    try {
      const first = await startParley({ dataDir });
      const api = client(first.url);
      const { body } = await api.post<ProjectCreatedResponse>('/v1/admin/projects', {
        ...admin,
        body: { name: 'Durable' },
      });
      const created = await api.post(`/v1/admin/projects/${body.project.id}/agents`, {
        ...admin,
        body: { email: 'durable@example.com', password: 'a durable password', name: 'Durable' },
      });
      expect(created.status).toBe(201);
      await first.kill();

      const second = await startParley({ dataDir, env: first.env });
      try {
        const again = client(second.url);
        const project = await again.get<{ project: { name: string } }>(`/v1/admin/projects/${body.project.id}`, admin);
        expect(project.status).toBe(200);
        expect(project.body.project.name).toBe('Durable');
        const login = await again.post<AgentLoginResponse>('/v1/agents/login', {
          body: { email: 'durable@example.com', password: 'a durable password' },
        });
        expect(login.status).toBe(200);
        expect(login.body.agent.projectId).toBe(body.project.id);
      } finally {
        await second.stop();
      }
    } finally {
      removeDir(dataDir);
    }
  });
});

describe('process lifecycle', () => {
  it('exits 0 on SIGTERM after shutting down cleanly', async () => {
    const server = await startParley();
    try {
      expect(await server.stop()).toBe(0);
      expect(server.output()).toContain('"msg":"stopped"');
    } finally {
      server.cleanup();
    }
  });

  it('names PORT in one line when the port is taken', async () => {
    const server = await startParley();
    try {
      const { code, stderr } = await runWithEnv({ PORT: String(server.port), HOST: '127.0.0.1' });
      expect(code).not.toBe(0);
      expect(stderr.trim().split('\n')).toEqual([expect.stringContaining(`PORT ${server.port} is already in use`)]);
    } finally {
      await server.stop();
      server.cleanup();
    }
  });

  it('finishes a demo seed that a crash cut short, with the password it had recorded', async () => {
    const dataDir = makeTempDir();
    try {
      // What a crash right after recording the password, before creating anything, leaves.
      writeFileSync(
        path.join(dataDir, 'demo-credentials.json'),
        JSON.stringify({ agentPassword: 'resumed-password-1' }),
      );
      const server = await startParley({ dataDir, env: { SEED_DEMO: 'true', NODE_ENV: 'development' } });
      try {
        await server.waitForOutput('Demo agent:');
        expect(server.output()).toContain('demo@parley.local / resumed-password-1');
        const login = await client(server.url).post<AgentLoginResponse>('/v1/agents/login', {
          body: { email: 'demo@parley.local', password: 'resumed-password-1' },
        });
        expect(login.status).toBe(200);
        const saved = JSON.parse(readFileSync(path.join(dataDir, 'demo-credentials.json'), 'utf8')) as {
          projectId: string;
          projectSecret: string;
        };
        expect(saved.projectId).toBe(login.body.agent.projectId);
        expect(saved.projectSecret).toMatch(/^ps_/);
      } finally {
        await server.stop();
      }
    } finally {
      removeDir(dataDir);
    }
  });

  it('seeds a demo project and agent on embedded defaults and prints where to go', async () => {
    const server = await startParley({ env: { SEED_DEMO: 'true', NODE_ENV: 'development' } });
    try {
      await server.waitForOutput('Demo agent:');
      const out = server.output();
      expect(out).toContain(`Parley is running at ${server.url}`);
      const match = /Demo agent: +(\S+) \/ (\S+)/.exec(out);
      expect(match).not.toBeNull();
      const login = await client(server.url).post<AgentLoginResponse>('/v1/agents/login', {
        body: { email: match?.[1], password: match?.[2] },
      });
      expect(login.status).toBe(200);
      expect(out).toContain(login.body.agent.projectId);
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
});

/** Runs the server with a bad environment; it must exit non-zero with one line naming the variable. */
function runWithEnv(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const dataDir = makeTempDir();
    const child = spawn(process.execPath, [SERVER_MAIN], {
      env: { PATH: process.env['PATH'] ?? '', DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => {
      removeDir(dataDir);
      resolve({ code, stderr });
    });
  });
}

/** What `openssl rand -base64 32` gives: accepted as a production secret. */
const STRONG_SECRET = 'E6TjCY6YiJ4CSaY9TESHn8amBKAFdDcShZ6OzCdU4GM=';

describe('bad configuration', () => {
  it.each([
    ['MONGODB_URI', { NODE_ENV: 'production', JWT_SECRET: 'k'.repeat(4) + 'abcdefghijklmnopqrstuvwxyz0123456789' }],
    ['JWT_SECRET', { NODE_ENV: 'production', MONGODB_URI: 'mongodb://127.0.0.1:1/x', JWT_SECRET: 'short' }],
    ['JWT_SECRET', { NODE_ENV: 'production', MONGODB_URI: 'mongodb://127.0.0.1:1/x' }],
    [
      'ADMIN_TOKEN',
      {
        NODE_ENV: 'production',
        MONGODB_URI: 'mongodb://127.0.0.1:1/x',
        JWT_SECRET: STRONG_SECRET,
        ADMIN_TOKEN: 'admin',
      },
    ],
    // Production secrets must be unguessable: no sequences, repeats or placeholders.
    ...[
      '0123456789012345678901234567890123456789',
      'abcdefghijklmnopqrstuvwxyz0123456789',
      'your-super-secret-jwt-key-change-me',
    ].map((secret): [string, Record<string, string>] => [
      'JWT_SECRET',
      { NODE_ENV: 'production', MONGODB_URI: 'mongodb://127.0.0.1:1/x', JWT_SECRET: secret, METRICS_PORT: '0' },
    ]),
    [
      'ADMIN_TOKEN',
      {
        NODE_ENV: 'production',
        MONGODB_URI: 'mongodb://127.0.0.1:1/x',
        JWT_SECRET: STRONG_SECRET,
        ADMIN_TOKEN: STRONG_SECRET,
        METRICS_PORT: '0',
      },
    ],
    [
      'METRICS_TOKEN',
      { NODE_ENV: 'production', MONGODB_URI: 'mongodb://127.0.0.1:1/x', JWT_SECRET: STRONG_SECRET, METRICS_TOKEN: 'x' },
    ],
    // Metrics on the public port need a token in production.
    ['METRICS_TOKEN', { NODE_ENV: 'production', MONGODB_URI: 'mongodb://127.0.0.1:1/x', JWT_SECRET: STRONG_SECRET }],
    ['PORT', { PORT: 'eighty' }],
    ['REDIS_URL', { REDIS_URL: 'http://localhost:6379' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['VISITOR_TOKEN_TTL', { VISITOR_TOKEN_TTL: 'forever' }],
    ['HOST', { HOST: 'not_a_host' }],
    ['HOST', { HOST: 'no-such-host.invalid' }],
    [
      'JWT_PRIVATE_KEY',
      {
        JWT_ALGORITHM: 'ES256',
        JWT_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----',
        JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----',
      },
    ],
    ['DATA_DIR', { DATA_DIR: '/etc/hostname' }],
  ])('names %s and exits non-zero', async (variable, env) => {
    const { code, stderr } = await runWithEnv(env);
    expect(code).not.toBe(0);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(variable);
  });
});
