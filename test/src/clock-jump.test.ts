import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type {
  AgentLoginResponse,
  ConversationStartResult,
  Lead,
  MessageCreatedEvent,
  VisitorAuthResponse,
} from '@parley/protocol';
import { startDatabase, type TestDatabase } from './support/database';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startParley, TEST_ADMIN_TOKEN, type ParleyProcess } from './support/parley-process';
import { REPO_ROOT } from './support/paths';
import { startRedis, type RedisProcess } from './support/redis-process';
import { metricValue } from './support/metric-value';
import { command, connectAgent, connectVisitor, ok, type AgentClientSocket } from './support/sockets';
import { makeTempDir, removeDir } from './support/temp-dir';
import { waitFor } from './support/wait';
import { eventOf, ReceiverProcess, verifyWithStandardWebhooks } from './support/webhook-receiver';
import { createWebhook } from './support/webhooks';

const PRELOAD = path.join(REPO_ROOT, 'test', 'dist', 'child', 'clock-jump.js');
const HOURS_3 = 3 * 3600_000;
/** Short enough to wait out; the agent tokens (1 h) are shorter than the jumps (3 h). */
const VISITOR_TTL_MS = 5_000;
/**
 * How far past a token's real expiry the test waits before asking: the documented agreement of
 * the nodes' clocks (half a round trip to the database) and the whole second `exp` is rounded to,
 * with room to spare. A node off by hours is far beyond it.
 */
const LEEWAY_MS = 1_500;

describe('one node of two whose wall clock jumps hours forward, then back', () => {
  let database: TestDatabase;
  let redis: RedisProcess;
  let jumpy: ParleyProcess;
  let steady: ParleyProcess;
  let dir: string;
  let jumps = 0;
  let projectId: string;
  let agent: TestAgent;

  beforeAll(async () => {
    database = await startDatabase();
    redis = await startRedis();
    dir = makeTempDir('parley-clock-');
    const env = {
      MONGODB_URI: database.uri,
      REDIS_URL: redis.url,
      VISITOR_TOKEN_TTL: `${VISITOR_TTL_MS / 1000}s`,
      AGENT_TOKEN_TTL: '1h',
      WEBHOOK_RETRY_DELAYS: '1s,1s,1s,1s,1s',
      // Sweeps often, so that a sweep that would wake a snooze early comes soon.
      WORKFLOW_SWEEP_INTERVAL: '250ms',
    };
    [steady, jumpy] = await Promise.all([
      startParley({ env, timeoutMs: 45_000 }),
      startParley({
        env: { ...env, CLOCK_JUMP_FILE: path.join(dir, 'offset') },
        nodeArgs: ['--require', PRELOAD],
        timeoutMs: 45_000,
      }),
    ]);
    const { project } = await createProject(steady.url);
    projectId = project.id;
    agent = await createAgent(steady.url, projectId);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([jumpy?.stop(), steady?.stop()]);
    jumpy?.cleanup();
    steady?.cleanup();
    await redis?.stop();
    await database?.stop();
    removeDir(dir);
  });

  /** The jumpy node's wall clock moves to `offset` ms from the real time. */
  async function jump(offset: number): Promise<void> {
    writeFileSync(path.join(dir, 'offset'), String(offset));
    jumps++;
    jumpy.process.kill('SIGUSR2');
    await jumpy.waitForOutput(`clock jumped to ${offset} (${jumps})`);
  }

  const meStatus = async (node: ParleyProcess, token: string) =>
    (await client(node.url).get('/v1/me', { token })).status;

  async function login(node: ParleyProcess): Promise<string> {
    const res = await client(node.url).post<AgentLoginResponse>('/v1/agents/login', {
      body: { email: agent.email, password: agent.password },
    });
    expect(res.status).toBe(200);
    return res.body.token;
  }

  /** A visitor token, and a moment by which it has really expired (by the test's own clock). */
  async function visitor(node: ParleyProcess): Promise<{ token: string; expiredBy: number }> {
    const res = await client(node.url).post<VisitorAuthResponse>(`/v1/projects/${projectId}/auth/anonymous`, {
      body: {},
    });
    expect(res.status).toBe(201);
    return { token: res.body.token, expiredBy: Date.now() + VISITOR_TTL_MS + LEEWAY_MS };
  }

  const pastRealExpiry = (expiredBy: number) =>
    waitFor('the token to have expired in real time', () => Date.now() >= expiredBy, { timeoutMs: 30_000 });

  /** Two leads to merge, and the merge asked of `node`: 200, or 409 when the lease stays held. */
  async function mergeOn(node: ParleyProcess, token: string): Promise<number> {
    const api = client(node.url);
    const create = async () =>
      (await api.post<Lead>(`/v1/projects/${projectId}/leads`, { token, body: { fullname: 'Ada' } })).body;
    const [target, source] = [await create(), await create()];
    const res = await api.post(`/v1/projects/${projectId}/leads/${target.id}/merge`, {
      token,
      body: { sourceLeadIds: [source.id] },
    });
    return res.status;
  }

  const locks = () => database.db.collection<{ _id: string; owner: string; expiresAt: Date }>('locks');

  /**
   * A visitor's messages, sent through both nodes in turn, reach a webhook in the order they were
   * sent, each signed at the real time: a lead's order and `webhook-timestamp` are the cluster's
   * clock, not the recording node's. The receiver fails the first attempt, so that the lead's
   * later events are all recorded while the first waits for its retry (and are sent by order).
   */
  async function webhookEventsInOrder(label: string): Promise<void> {
    const receiver = await ReceiverProcess.start('500');
    try {
      const { secret } = await createWebhook(steady.url, projectId, TEST_ADMIN_TOKEN, receiver.url, [
        'message.created',
      ]);
      const auth = await anonymousVisitor(steady.url, projectId);
      const sockets = [await connectVisitor(steady.url, auth.token), await connectVisitor(jumpy.url, auth.token)];
      try {
        const { conversation } = await ok<ConversationStartResult>(sockets[0]!, 'conversation:start', {});
        const texts = [1, 2, 3, 4, 5, 6].map((i) => `${label}-${i}`);
        for (const [i, text] of texts.entries())
          await ok(sockets[i % 2]!, 'message:send', { conversationId: conversation.id, clientMessageId: text, text });
        const requests = await receiver.waitForRequests(texts.length + 1);
        for (const request of requests) verifyWithStandardWebhooks(secret, request);
        const delivered = requests
          .filter((r) => r.answer === '200')
          .map((r) => (eventOf(r).data as MessageCreatedEvent).message.text);
        expect(delivered).toEqual(texts);
      } finally {
        for (const socket of sockets) socket.close();
      }
    } finally {
      await receiver.stop();
    }
  }

  /** A visitor's new conversation, and an agent's socket on `node` to move it. */
  async function conversationMovedOn(node: ParleyProcess): Promise<{ id: string; agentSocket: AgentClientSocket }> {
    const auth = await anonymousVisitor(steady.url, projectId);
    const visitorSocket = await connectVisitor(steady.url, auth.token);
    try {
      const { conversation } = await ok<ConversationStartResult>(visitorSocket, 'conversation:start', {});
      return { id: conversation.id, agentSocket: await connectAgent(node.url, await login(node)) };
    } finally {
      visitorSocket.close();
    }
  }

  const statusOf = async (conversationId: string) =>
    (await database.db.collection<{ _id: string; status: string }>('conversations').findOne({ _id: conversationId }))
      ?.status;

  const sweepsOf = async (node: ParleyProcess) => (await metricValue(node.url, 'parley_workflow_sweeps_total')) ?? 0;

  describe('ahead by 3 hours', () => {
    beforeAll(() => jump(HOURS_3));

    it("takes the other node's valid tokens, and its own are valid on the other node", async () => {
      const fromJumpy = await login(jumpy);
      const fromSteady = await login(steady);
      for (const node of [jumpy, steady]) {
        for (const token of [fromJumpy, fromSteady]) expect(await meStatus(node, token)).toBe(200);
      }
      const socket = await connectAgent(jumpy.url, fromSteady);
      socket.close();
    });

    it('refuses, on both nodes, a visitor token either issued once it has really expired', async () => {
      const [a, b] = [await visitor(jumpy), await visitor(steady)];
      await pastRealExpiry(Math.max(a.expiredBy, b.expiredBy));
      for (const node of [jumpy, steady]) {
        for (const { token } of [a, b]) expect(await meStatus(node, token)).toBe(401);
      }
    });

    it('does not take over a lease another node still holds', async () => {
      // Its own token, which it takes whatever its clock says: the lease is what is tried here.
      const token = await login(jumpy);
      // A merge in progress on the steady node: its lease ends in a minute.
      await locks().insertOne({
        _id: `contacts:${projectId}`,
        owner: 'steady',
        expiresAt: new Date(Date.now() + 60_000),
      });
      try {
        expect(await mergeOn(jumpy, token)).toBe(409);
        expect(await locks().findOne({ _id: `contacts:${projectId}` })).toMatchObject({ owner: 'steady' });
      } finally {
        await locks().deleteOne({ _id: `contacts:${projectId}` });
      }
    }, 30_000);

    it(
      "sends a lead's webhook events in order, signed at the real time, whichever node records them",
      () => webhookEventsInOrder('ahead'),
      60_000,
    );

    it('takes a snooze its own clock calls past, keeps it through its sweeps, and ends it at its real time', async () => {
      const { id, agentSocket } = await conversationMovedOn(jumpy);
      try {
        // By the jumpy node's wall clock, a snooze of a minute ended hours ago.
        await ok(agentSocket, 'conversation:snooze', {
          conversationId: id,
          until: new Date(Date.now() + 60_000).toISOString(),
        });
        const before = await sweepsOf(jumpy);
        await waitFor('two sweeps of the jumpy node', async () => (await sweepsOf(jumpy)) >= before + 2, {
          timeoutMs: 20_000,
        });
        expect(await statusOf(id)).toBe('snoozed');

        // Snoozed again, for a moment: it ends then (whichever node sweeps), not before.
        const until = new Date(Date.now() + 1_500).toISOString();
        await ok(agentSocket, 'conversation:snooze', { conversationId: id, until });
        await waitFor('the snooze to end', async () => (await statusOf(id)) === 'open', { timeoutMs: 20_000 });
        expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(until));
      } finally {
        agentSocket.close();
      }
    }, 45_000);
  });

  describe('then behind by 3 hours', () => {
    beforeAll(() => jump(-HOURS_3));

    it('issues tokens the other node takes, and still takes those issued before the jump', async () => {
      const fromJumpy = await login(jumpy);
      const fromSteady = await login(steady);
      for (const node of [jumpy, steady]) {
        for (const token of [fromJumpy, fromSteady]) expect(await meStatus(node, token)).toBe(200);
      }
    });

    it("refuses the other node's visitor token once it has really expired, and closes its socket then", async () => {
      const issued = await visitor(steady);
      const socket = await connectVisitor(jumpy.url, issued.token);
      let closed = false;
      socket.on('disconnect', () => (closed = true));
      try {
        await pastRealExpiry(issued.expiredBy);
        expect(await meStatus(jumpy, issued.token)).toBe(401);
        await waitFor('the expired socket to be closed', () => closed, { timeoutMs: 10_000 });
      } finally {
        socket.close();
      }
      const own = await visitor(jumpy);
      await pastRealExpiry(own.expiredBy);
      for (const node of [jumpy, steady]) expect(await meStatus(node, own.token)).toBe(401);
    });

    it('takes over a lease whose holder died once its lease has really ended', async () => {
      const token = await login(jumpy);
      // A node that crashed mid-merge; its lease ended a moment ago.
      await locks().insertOne({
        _id: `contacts:${projectId}`,
        owner: 'crashed',
        expiresAt: new Date(Date.now() - 1_000),
      });
      expect(await mergeOn(jumpy, token)).toBe(200);
      expect(await locks().findOne({ _id: `contacts:${projectId}` })).toBeNull();
    }, 30_000);

    it(
      "sends a lead's webhook events in order, signed at the real time, whichever node records them",
      () => webhookEventsInOrder('behind'),
      60_000,
    );

    it('refuses a snooze that ended by the real time, though its own clock calls it hours ahead', async () => {
      const { id, agentSocket } = await conversationMovedOn(jumpy);
      try {
        const response = await command(agentSocket, 'conversation:snooze', {
          conversationId: id,
          until: new Date(Date.now() - 60_000).toISOString(),
        });
        expect(response).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
        expect(await statusOf(id)).toBe('open');
      } finally {
        agentSocket.close();
      }
    });
  });
});
