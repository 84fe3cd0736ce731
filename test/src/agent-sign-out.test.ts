import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { MongoClient, type Db } from 'mongodb';
import type { AgentLoginResponse, ConversationStartResult, ErrorResponse } from '@parley/protocol';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startSharedMongo, type SharedMongo } from './support/mongo-process';
import { startParley, TEST_ADMIN_TOKEN, type ParleyProcess } from './support/parley-process';
import { startRedis, type RedisProcess } from './support/redis-process';
import { waitFor } from './support/wait';
import {
  command,
  connectAgent,
  connectVisitor,
  EventLog,
  ok,
  refusedHandshake,
  type AgentClientSocket,
} from './support/sockets';

const KEY_PREFIX = 'signout-test:';

/**
 * The audit's scenario: two gateway nodes sharing one standalone embedded-mongo (or MONGODB_URI)
 * and one Redis; an agent removed, re-roled or re-passworded through node 1 must be shut out of
 * node 2 at once: new handshakes, REST, and commands on sockets node 2 already holds, including
 * when node 2 never hears about the change.
 */
describe('signing an agent out across nodes', () => {
  let redis: RedisProcess;
  let mongo: SharedMongo;
  let mongoClient: MongoClient;
  let db: Db;
  let redisClient: Redis;
  let node1: ParleyProcess;
  let node2: ParleyProcess;
  let projectId: string;
  const closers: (() => void)[] = [];
  // Redis persists to an append-only file, as in production: a restart brings back what it held.
  const redisDir = mkdtempSync(path.join(tmpdir(), 'parley-signout-redis-'));

  beforeAll(async () => {
    redis = await startRedis({ appendOnlyDir: redisDir });
    mongo = await startSharedMongo();
    const env = { MONGODB_URI: mongo.uri, REDIS_URL: redis.url, REDIS_KEY_PREFIX: KEY_PREFIX };
    [node1, node2] = await Promise.all([startParley({ env }), startParley({ env })]);
    mongoClient = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 5000 });
    await mongoClient.connect();
    db = mongoClient.db();
    redisClient = new Redis(redis.url);
    projectId = (await createProject(node1.url)).project.id;
  }, 60_000);

  afterEach(() => closers.splice(0).forEach((close) => close()));

  afterAll(async () => {
    redisClient?.disconnect();
    await mongoClient?.close();
    for (const node of [node1, node2]) {
      await node?.stop();
      node?.cleanup();
    }
    await mongo?.stop();
    await redis?.stop();
    rmSync(redisDir, { recursive: true, force: true });
  }, 30_000);

  async function agentOnNode2(role: 'owner' | 'agent' = 'agent'): Promise<{
    agent: TestAgent;
    socket: AgentClientSocket;
    events: EventLog;
    closed: Promise<string>;
  }> {
    const agent = await createAgent(node1.url, projectId, role);
    const socket = await connectAgent(node2.url, agent.token);
    closers.push(() => socket.close());
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    // Node 2 has used the agent (REST and a command) before anything changes.
    expect((await client(node2.url).get(`/v1/projects/${projectId}/leads`, { token: agent.token })).status).toBe(200);
    await ok(socket, 'typing', { conversationId: await conversationId(), typing: false });
    return { agent, socket, events: new EventLog(socket), closed };
  }

  async function conversationId(): Promise<string> {
    const { token } = await anonymousVisitor(node1.url, projectId);
    const visitor = await connectVisitor(node1.url, token);
    closers.push(() => visitor.close());
    return (await ok<ConversationStartResult>(visitor, 'conversation:start', { text: 'hello' })).conversation.id;
  }

  /** A command on a socket that must not act: refused (with its code) or the socket closed first. */
  async function refusedCommand(socket: AgentClientSocket, name: string, payload: unknown): Promise<string> {
    if (!socket.connected) return 'closed';
    const closed = new Promise<string>((resolve) => socket.once('disconnect', () => resolve('closed')));
    const acked = command(socket, name, payload).then((ack) => (ack.ok ? 'accepted' : ack.error.code));
    return Promise.race([acked, closed]);
  }

  async function restOnNode2(token: string): Promise<{ status: number; code?: string }> {
    const res = await client(node2.url).get<ErrorResponse>(`/v1/projects/${projectId}/leads`, { token });
    return { status: res.status, ...(res.status >= 400 ? { code: res.body.error.code } : {}) };
  }

  it('shuts a removed agent out of node 2 at once: handshake, REST, open sockets', async () => {
    const { agent, socket, closed } = await agentOnNode2();
    const conversation = await conversationId();

    const removed = await client(node1.url).delete(`/v1/admin/projects/${projectId}/agents/${agent.id}`, {
      token: TEST_ADMIN_TOKEN,
    });
    expect(removed.status).toBe(204);

    // Right after, on the other node.
    expect((await refusedHandshake(node2.url, '/agent', agent.token)).message).toBe('UNAUTHORIZED');
    expect(await restOnNode2(agent.token)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    for (const [name, payload] of [
      ['conversation:history', { conversationId: conversation }],
      ['message:send', { conversationId: conversation, clientMessageId: 'after-removal', text: 'still here?' }],
    ] as const) {
      expect(['UNAUTHORIZED', 'closed']).toContain(await refusedCommand(socket, name, payload));
    }
    expect(await closed).toBe('io server disconnect');
    expect(await db.collection('messages').countDocuments({ clientMessageId: 'after-removal' })).toBe(0);
    const refresh = await client(node2.url).post<ErrorResponse>('/v1/auth/refresh', { token: agent.token, body: {} });
    expect(refresh.status).toBe(401);
  });

  it('refuses everywhere even on a node that never heard of the change', async () => {
    const { agent, socket, closed } = await agentOnNode2();
    const conversation = await conversationId();

    // The change as the server stores it (the database, then the shared standing in Redis) with
    // no broadcast at all: node 2 is told nothing, as if it had missed every message.
    await db.collection('agents').updateOne({ _id: agent.id as never }, { $inc: { credentialVersion: 1 } });
    await redisClient.set(
      `${KEY_PREFIX}agent-standing:${agent.id}`,
      JSON.stringify({ v: 1, p: projectId, r: 'agent' }),
    );

    const refused = await command(socket, 'conversation:history', { conversationId: conversation });
    expect(refused).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(await closed).toBe('io server disconnect');
    expect((await refusedHandshake(node2.url, '/agent', agent.token)).message).toBe('UNAUTHORIZED');
    expect(await restOnNode2(agent.token)).toEqual({ status: 401, code: 'UNAUTHORIZED' });

    // Redis lost what it held (a restart without persistence) and the database alone says so.
    await redisClient.del(`${KEY_PREFIX}agent-standing:${agent.id}`);
    await db.collection('agents').deleteOne({ _id: agent.id as never });
    const again = await createAgent(node1.url, projectId);
    await redisClient.del(`${KEY_PREFIX}agent-standing:${again.id}`);
    await db.collection('agents').updateOne({ _id: again.id as never }, { $inc: { credentialVersion: 1 } });
    for (const token of [agent.token, again.token]) {
      expect((await refusedHandshake(node2.url, '/agent', token)).message).toBe('UNAUTHORIZED');
      expect(await restOnNode2(token)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    }
  });

  it('stops pushing to a socket on a node that missed the sign-out, without any command from it', async () => {
    const { agent, events, closed } = await agentOnNode2();
    await redisClient.set(
      `${KEY_PREFIX}agent-standing:${agent.id}`,
      JSON.stringify({ v: 2 ** 50, p: '', r: 'agent', x: 1 }),
    );
    // The periodic re-check of open sockets closes it (every 10 s).
    expect(await closed).toBe('io server disconnect');
    const before = events.events.length;
    await conversationId();
    expect(events.events.length).toBe(before);
  }, 30_000);

  it('signs an agent out everywhere when it changes its password, and keeps the console that changed it', async () => {
    const { agent, closed } = await agentOnNode2();
    const wrong = await client(node1.url).post<ErrorResponse>('/v1/agents/me/password', {
      token: agent.token,
      body: { currentPassword: 'not my password', newPassword: 'a brand new password' },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe('FORBIDDEN');

    const changed = await client(node1.url).post<AgentLoginResponse>('/v1/agents/me/password', {
      token: agent.token,
      body: { currentPassword: agent.password, newPassword: 'a brand new password' },
    });
    expect(changed.status).toBe(200);
    expect(await restOnNode2(agent.token)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    expect((await refusedHandshake(node2.url, '/agent', agent.token)).message).toBe('UNAUTHORIZED');
    expect(await closed).toBe('io server disconnect');
    expect(await restOnNode2(changed.body.token)).toEqual({ status: 200 });
    const fresh = await connectAgent(node2.url, changed.body.token);
    fresh.close();

    const oldPassword = await client(node2.url).post('/v1/agents/login', {
      body: { email: agent.email, password: agent.password },
    });
    expect(oldPassword.status).toBe(401);
    const newPassword = await client(node2.url).post('/v1/agents/login', {
      body: { email: agent.email, password: 'a brand new password' },
    });
    expect(newPassword.status).toBe(200);
  });

  it('signs an agent out everywhere on a password reset and a role change, and enforces the new role', async () => {
    const owner = await createAgent(node1.url, projectId, 'owner');
    const { agent, closed } = await agentOnNode2('owner');

    // An owner resets the agent's password through node 1.
    const reset = await client(node1.url).post(`/v1/projects/${projectId}/agents/${agent.id}/password`, {
      token: owner.token,
      body: { password: 'reset by the owner' },
    });
    expect(reset.status).toBe(200);
    expect(await restOnNode2(agent.token)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    expect(await closed).toBe('io server disconnect');

    const login = await client(node2.url).post<AgentLoginResponse>('/v1/agents/login', {
      body: { email: agent.email, password: 'reset by the owner' },
    });
    expect(login.body.agent.role).toBe('owner');
    const exportAsOwner = await client(node2.url).get(`/v1/projects/${projectId}/leads/export.csv`, {
      token: login.body.token,
    });
    expect(exportAsOwner.status).toBe(200);

    // The admin API demotes it through node 1: the owner's token no longer works on node 2.
    const demoted = await client(node1.url).patch<{ agent: { role: string } }>(
      `/v1/admin/projects/${projectId}/agents/${agent.id}`,
      { token: TEST_ADMIN_TOKEN, body: { role: 'agent' } },
    );
    expect(demoted.body.agent.role).toBe('agent');
    expect(await restOnNode2(login.body.token)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    const relogin = await client(node2.url).post<AgentLoginResponse>('/v1/agents/login', {
      body: { email: agent.email, password: 'reset by the owner' },
    });
    expect(relogin.body.agent.role).toBe('agent');
    const exportAsAgent = await client(node2.url).get<ErrorResponse>(`/v1/projects/${projectId}/leads/export.csv`, {
      token: relogin.body.token,
    });
    expect(exportAsAgent.status).toBe(403);
    expect(exportAsAgent.body.error.code).toBe('FORBIDDEN');
  });

  // Last in this file: it kills Redis.
  it('keeps a change made while Redis was down after Redis comes back from its append-only file', async () => {
    const keeper = await createAgent(node1.url, projectId, 'owner');
    const removed = await agentOnNode2();
    const demoted = await agentOnNode2('owner');
    const reset = await agentOnNode2();
    const conversation = await conversationId();
    // Node 2 used all three: their standings are in Redis, and in its append-only file.
    for (const { agent } of [removed, demoted, reset]) {
      expect(await redisClient.exists(`${KEY_PREFIX}agent-standing:${agent.id}`)).toBe(1);
    }

    await redis.kill();
    const owner = { token: keeper.token };
    const removal = await client(node1.url).delete(`/v1/projects/${projectId}/agents/${removed.agent.id}`, owner);
    const demotion = await client(node1.url).patch(`/v1/projects/${projectId}/agents/${demoted.agent.id}`, {
      ...owner,
      body: { role: 'agent' },
    });
    const passwordReset = await client(node1.url).post(`/v1/projects/${projectId}/agents/${reset.agent.id}/password`, {
      ...owner,
      body: { password: 'reset while redis was down' },
    });
    // Stored, and enforced once Redis is back: the requests succeed.
    expect([removal.status, demotion.status, passwordReset.status]).toEqual([204, 200, 200]);

    // Redis comes back with the standings from before the changes; node 2 uses it again.
    await redis.restart();
    await waitFor('node 2 connected to Redis again', async () => {
      const ready = await client(node2.url).get<{ checks?: { redis?: string } }>('/readyz');
      return ready.body.checks?.redis === 'ok';
    });

    expect((await refusedHandshake(node2.url, '/agent', removed.agent.token)).message).toBe('UNAUTHORIZED');
    expect(await restOnNode2(removed.agent.token)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    expect(['UNAUTHORIZED', 'closed']).toContain(
      await refusedCommand(removed.socket, 'message:send', {
        conversationId: conversation,
        clientMessageId: 'after-outage-removal',
        text: 'back in?',
      }),
    );
    expect(['UNAUTHORIZED', 'closed']).toContain(
      await refusedCommand(demoted.socket, 'conversation:history', { conversationId: conversation }),
    );
    const oldOwnerExport = await client(node2.url).get(`/v1/projects/${projectId}/leads/export.csv`, {
      token: demoted.agent.token,
    });
    expect(oldOwnerExport.status).toBe(401);
    expect(await restOnNode2(reset.agent.token)).toEqual({ status: 401, code: 'UNAUTHORIZED' });

    // Fresh sign-ins get what the database holds, on node 2.
    const demotedLogin = await client(node2.url).post<AgentLoginResponse>('/v1/agents/login', {
      body: { email: demoted.agent.email, password: demoted.agent.password },
    });
    expect(demotedLogin.body.agent.role).toBe('agent');
    const exportAsAgent = await client(node2.url).get(`/v1/projects/${projectId}/leads/export.csv`, {
      token: demotedLogin.body.token,
    });
    expect(exportAsAgent.status).toBe(403);
    const resetLogin = await client(node2.url).post<AgentLoginResponse>('/v1/agents/login', {
      body: { email: reset.agent.email, password: 'reset while redis was down' },
    });
    expect(resetLogin.status).toBe(200);
    expect(await restOnNode2(resetLogin.body.token)).toEqual({ status: 200 });

    // And Redis itself is corrected, so every node reading it agrees.
    await waitFor('the removal applied to the restored Redis', async () => {
      const raw = await redisClient.get(`${KEY_PREFIX}agent-standing:${removed.agent.id}`).catch(() => null);
      return raw !== null && (JSON.parse(raw) as { x?: number }).x === 1;
    });
    expect((await refusedHandshake(node2.url, '/agent', removed.agent.token)).message).toBe('UNAUTHORIZED');
    expect(await restOnNode2(removed.agent.token)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    expect(await db.collection('messages').countDocuments({ clientMessageId: 'after-outage-removal' })).toBe(0);
  }, 60_000);
});
