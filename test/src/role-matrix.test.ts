import { AGENT_COMMANDS, type AgentCommand, type ConversationStartResult, type ErrorResponse } from '@parley/protocol';
import { loadConfig } from '@parley/server/dist/config';
import { startServer, type RunningServer } from '@parley/server/dist/main';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { request } from './support/http';
import { TEST_ADMIN_TOKEN } from './support/parley-process';
import { command, connectAgent, connectVisitor, ok, refusedHandshake } from './support/sockets';
import { makeTempDir, removeDir } from './support/temp-dir';

/** Authorized (any answer but 401/403: the request reached its handler), or refused with this code. */
type Outcome = 'ok' | 'FORBIDDEN' | 'UNAUTHORIZED';
const O: Outcome = 'ok';
const F: Outcome = 'FORBIDDEN';
const U: Outcome = 'UNAUTHORIZED';

const CALLERS = ['owner', 'agent', 'admin', 'none'] as const;
type Caller = (typeof CALLERS)[number];
type Row = [owner: Outcome, agent: Outcome, admin: Outcome, none: Outcome];

const PUBLIC: Row = [O, O, O, O];
const ADMIN: Row = [U, U, O, U];
const AGENTS: Row = [O, O, U, U];
const OWNERS: Row = [O, F, U, U];
const OWNERS_OR_ADMIN: Row = [O, F, O, U];

/**
 * Who may call each REST endpoint. Every route the server declares must have a row (and every row
 * a route), so a new endpoint cannot ship without deciding who may use it.
 */
const REST: Record<string, Row> = {
  // Operations and the contract: public (metrics sit on their own port or behind METRICS_TOKEN in
  // production; this test server has neither).
  'GET /healthz': PUBLIC,
  'GET /readyz': PUBLIC,
  'GET /metrics': PUBLIC,
  'GET /v1/openapi.json': PUBLIC,
  'GET /v1/asyncapi.json': PUBLIC,
  'GET /v1/projects/:projectId/widget': PUBLIC,
  'POST /v1/projects/:projectId/auth/anonymous': PUBLIC,
  'POST /v1/projects/:projectId/auth/verified': PUBLIC,
  'POST /v1/agents/login': PUBLIC,
  // Any Parley token; the admin token is not one that refreshes.
  'POST /v1/auth/refresh': [O, O, F, U],
  'GET /v1/me': [O, O, O, U],
  'POST /v1/agents/me/password': AGENTS,
  'POST /v1/admin/projects': ADMIN,
  'GET /v1/admin/projects/:projectId': ADMIN,
  'PATCH /v1/admin/projects/:projectId': ADMIN,
  'POST /v1/admin/projects/:projectId/secret/rotate': ADMIN,
  'POST /v1/admin/projects/:projectId/agents': ADMIN,
  'GET /v1/admin/projects/:projectId/agents': ADMIN,
  'PATCH /v1/admin/projects/:projectId/agents/:agentId': ADMIN,
  'POST /v1/admin/projects/:projectId/agents/:agentId/password': ADMIN,
  'DELETE /v1/admin/projects/:projectId/agents/:agentId': ADMIN,
  // Project settings: owners alone change them.
  'GET /v1/projects/:projectId': AGENTS,
  'PATCH /v1/projects/:projectId': OWNERS,
  // The team: owners alone change roles, reset passwords and remove agents.
  'GET /v1/projects/:projectId/agents': AGENTS,
  'PATCH /v1/projects/:projectId/agents/:agentId': OWNERS,
  'POST /v1/projects/:projectId/agents/:agentId/password': OWNERS,
  'DELETE /v1/projects/:projectId/agents/:agentId': OWNERS,
  // Contacts: agents work them; erasure and export are for owners.
  'GET /v1/projects/:projectId/leads': AGENTS,
  'GET /v1/projects/:projectId/leads/export.csv': OWNERS,
  'POST /v1/projects/:projectId/leads': AGENTS,
  'GET /v1/projects/:projectId/leads/:leadId': AGENTS,
  'PATCH /v1/projects/:projectId/leads/:leadId': AGENTS,
  'POST /v1/projects/:projectId/leads/:leadId/merge': AGENTS,
  'DELETE /v1/projects/:projectId/leads/:leadId': OWNERS,
  // Conversations: every agent.
  'GET /v1/projects/:projectId/conversations': AGENTS,
  'GET /v1/projects/:projectId/conversations/:conversationId': AGENTS,
  'GET /v1/projects/:projectId/conversations/:conversationId/messages': AGENTS,
  // Webhooks: the project's owners configure them, and so does the admin token.
  'POST /v1/projects/:projectId/webhooks': OWNERS_OR_ADMIN,
  'GET /v1/projects/:projectId/webhooks': OWNERS_OR_ADMIN,
  'GET /v1/projects/:projectId/webhooks/:webhookId': OWNERS_OR_ADMIN,
  'PATCH /v1/projects/:projectId/webhooks/:webhookId': OWNERS_OR_ADMIN,
  'DELETE /v1/projects/:projectId/webhooks/:webhookId': OWNERS_OR_ADMIN,
  'POST /v1/projects/:projectId/webhooks/:webhookId/secret/rotate': OWNERS_OR_ADMIN,
  'POST /v1/projects/:projectId/webhooks/:webhookId/test': OWNERS_OR_ADMIN,
  'GET /v1/projects/:projectId/webhooks/:webhookId/deliveries': OWNERS_OR_ADMIN,
  'POST /v1/projects/:projectId/webhooks/:webhookId/deliveries/:deliveryId/redeliver': OWNERS_OR_ADMIN,
};

/** Every `/agent` command is conversation work: both roles; the admin token and no token cannot connect. */
const SOCKET: Record<AgentCommand, Row> = {
  'conversation:join': AGENTS,
  'conversation:close': AGENTS,
  'message:send': AGENTS,
  'conversation:history': AGENTS,
  typing: AGENTS,
  'session:renew': AGENTS,
};

describe('role matrix', () => {
  let server: RunningServer;
  let dataDir: string;
  let projectId: string;
  let owner: TestAgent;
  let agent: TestAgent;
  let conversationId: string;

  beforeAll(async () => {
    dataDir = makeTempDir();
    server = await startServer(
      loadConfig({
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
        ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        JWT_SECRET: 'test-jwt-secret-0123456789abcdef0123456789',
        SEED_DEMO: 'false',
        PASSWORD_SCRYPT_N: '16384',
        RATE_LIMIT_LOGIN_PER_MINUTE: '100000',
        ...(process.env['MONGODB_URI'] ? { MONGODB_URI: process.env['MONGODB_URI'] } : {}),
      }),
    );
    projectId = (await createProject(server.url)).project.id;
    owner = await createAgent(server.url, projectId, 'owner');
    agent = await createAgent(server.url, projectId, 'agent');
    const visitor = await connectVisitor(server.url, (await anonymousVisitor(server.url, projectId)).token);
    conversationId = (await ok<ConversationStartResult>(visitor, 'conversation:start', { text: 'hi' })).conversation.id;
    visitor.close();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    removeDir(dataDir);
  });

  const tokenOf = (caller: Caller): string | undefined =>
    caller === 'owner'
      ? owner.token
      : caller === 'agent'
        ? agent.token
        : caller === 'admin'
          ? TEST_ADMIN_TOKEN
          : undefined;

  it('has exactly one row per REST endpoint the server declares', () => {
    const declared = server.routes.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort();
    expect(declared).toEqual(Object.keys(REST).sort());
  });

  it('has exactly one row per /agent command', () => {
    expect([...AGENT_COMMANDS].sort()).toEqual(Object.keys(SOCKET).sort());
  });

  it.each(Object.entries(REST))('%s', async (route, row) => {
    const [method = 'GET', template = ''] = route.split(' ');
    // Ids that pass authorization and then find nothing: nothing real is erased or changed.
    const path = template
      .replace(':projectId', projectId)
      .replace(':leadId', 'no-such-lead')
      .replace(':conversationId', conversationId)
      .replace(':agentId', 'no-such-agent')
      .replace(':webhookId', 'no-such-webhook')
      .replace(':deliveryId', 'no-such-delivery');
    for (const [i, caller] of CALLERS.entries()) {
      const token = tokenOf(caller);
      const res = await request<ErrorResponse>(server.url, method, path, {
        ...(token ? { token } : {}),
        ...(method === 'GET' ? {} : { body: {} }),
      });
      const outcome: Outcome = res.status === 401 ? 'UNAUTHORIZED' : res.status === 403 ? 'FORBIDDEN' : 'ok';
      expect({ caller, outcome }).toEqual({ caller, outcome: row[i] });
      if (outcome !== 'ok') expect(res.body.error.code).toBe(outcome);
    }
  });

  it.each(Object.entries(SOCKET))('/agent %s', async (name, row) => {
    const payloads: Record<AgentCommand, (token: string) => unknown> = {
      'conversation:join': () => ({ conversationId }),
      'conversation:close': () => ({ conversationId: 'no-such-conversation' }),
      'message:send': () => ({ conversationId, clientMessageId: `matrix-${Date.now()}`, text: 'matrix' }),
      'conversation:history': () => ({ conversationId }),
      typing: () => ({ conversationId, typing: false }),
      'session:renew': (token) => ({ token }),
    };
    for (const [i, caller] of CALLERS.entries()) {
      const token = tokenOf(caller);
      if (row[i] !== 'ok') {
        expect((await refusedHandshake(server.url, '/agent', token)).message).toBe(row[i]);
        continue;
      }
      const socket = await connectAgent(server.url, token ?? '');
      try {
        const ack = await command(socket, name, payloads[name as AgentCommand](token ?? ''));
        const outcome = ack.ok ? 'ok' : ack.error.code;
        expect({ caller, outcome: outcome === 'UNAUTHORIZED' || outcome === 'FORBIDDEN' ? outcome : 'ok' }).toEqual({
          caller,
          outcome: row[i],
        });
      } finally {
        socket.close();
      }
    }
  });
});
