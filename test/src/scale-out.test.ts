import { createVisitorClient, type TokenStorage, type VisitorClient } from '@parley/client-sdk';
import type {
  ConversationCreatedEvent,
  ConversationStartResult,
  LeadCreatedEvent,
  LeadUpdatedEvent,
  Message,
  MessageCreatedEvent,
  MessageSendResult,
} from '@parley/protocol';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startSharedMongo, type SharedMongo } from './support/mongo-process';
import { startParley, type ParleyProcess } from './support/parley-process';
import { startRedis, type RedisProcess } from './support/redis-process';
import {
  command,
  connectAgent,
  connectVisitor,
  EventLog,
  ok,
  type AgentClientSocket,
  type VisitorClientSocket,
} from './support/sockets';
import { startTcpBalancer, type TcpBalancer } from './support/tcp-balancer';

/** Polls `check` until it returns true; fails with `describe()` after `timeoutMs`. */
async function eventually(check: () => boolean | Promise<boolean>, describe: () => string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const seqsOf = (events: MessageCreatedEvent[], conversationId: string) =>
  events.filter((e) => e.message.conversationId === conversationId).map((e) => e.message.seq);

/**
 * Several gateway processes sharing one standalone embedded-mongo (or MONGODB_URI) and a Redis of
 * the test's own, as in production behind a load balancer.
 */
describe('scale-out over Redis', () => {
  let redis: RedisProcess;
  let mongo: SharedMongo;
  let nodeA: ParleyProcess;
  let nodeB: ParleyProcess;
  let projectId: string;
  let agent: TestAgent;
  let agentOnB: AgentClientSocket;
  let agentEvents: EventLog;
  const cleanups: (() => unknown)[] = [];

  const startNode = (env: Record<string, string> = {}) =>
    startParley({ env: { MONGODB_URI: mongo.uri, REDIS_URL: redis.url, ...env } });

  beforeAll(async () => {
    redis = await startRedis();
    mongo = await startSharedMongo();
    [nodeA, nodeB] = await Promise.all([startNode(), startNode()]);
    projectId = (await createProject(nodeA.url)).project.id;
    agent = await createAgent(nodeA.url, projectId, 'owner');
    agentOnB = await connectAgent(nodeB.url, agent.token, { reconnection: true });
    agentEvents = new EventLog(agentOnB);
  }, 60_000);

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  afterAll(async () => {
    agentOnB?.close();
    for (const node of [nodeA, nodeB]) {
      await node?.stop();
      node?.cleanup();
    }
    await mongo?.stop();
    await redis?.stop();
  }, 30_000);

  async function visitorOn(node: ParleyProcess): Promise<VisitorClientSocket> {
    const { token } = await anonymousVisitor(node.url, projectId);
    const socket = await connectVisitor(node.url, token, { reconnection: true });
    cleanups.push(() => socket.close());
    return socket;
  }

  test('a visitor on node A and an agent on node B hear each other', async () => {
    const visitor = await visitorOn(nodeA);
    const visitorEvents = new EventLog(visitor);

    await ok(visitor, 'lead:update', { fullname: 'Ada Cross', email: 'ada@example.com' });
    const created = await agentEvents.wait<LeadCreatedEvent>('lead.created', (e) => e.lead.email === 'ada@example.com');
    await ok(visitor, 'lead:update', { phone: '+44 20 7946 0000' });
    const updated = await agentEvents.wait<LeadUpdatedEvent>('lead.updated', (e) => e.lead.id === created.lead.id);
    expect(updated.changes).toContain('phone');

    const { conversation } = await ok<ConversationStartResult>(visitor, 'conversation:start', { text: 'Hello from A' });
    const announced = await agentEvents.wait<ConversationCreatedEvent>(
      'conversation.created',
      (e) => e.conversation.id === conversation.id,
    );
    expect(announced.conversation.leadId).toBe(created.lead.id);
    const first = await agentEvents.wait<MessageCreatedEvent>(
      'message.created',
      (e) => e.message.conversationId === conversation.id,
    );
    expect(first.message.text).toBe('Hello from A');

    await ok(agentOnB, 'conversation:join', { conversationId: conversation.id });
    await ok<MessageSendResult>(agentOnB, 'message:send', {
      conversationId: conversation.id,
      text: 'Hello from B',
      clientMessageId: 'reply-1',
    });
    const reply = await visitorEvents.wait<MessageCreatedEvent>(
      'message.created',
      (e) => e.message.text === 'Hello from B',
      10_000,
    );
    expect(reply.message.sender.role).toBe('agent');
    expect(reply.message.seq).toBe(2);
  });

  test('Redis killed and restarted mid-conversation: every message reaches the other node once, in order', async () => {
    const visitor = await visitorOn(nodeA);
    const sameNodeAgent = await connectAgent(nodeA.url, agent.token, { reconnection: true });
    cleanups.push(() => sameNodeAgent.close());
    const sameNodeEvents = new EventLog(sameNodeAgent);
    const { conversation } = await ok<ConversationStartResult>(visitor, 'conversation:start', {});
    let sent = 0;
    const send = async () => {
      sent++;
      const result = await ok<MessageSendResult>(visitor, 'message:send', {
        conversationId: conversation.id,
        text: `message ${sent}`,
        clientMessageId: `chaos-${sent}`,
      });
      expect(result.message.seq).toBe(sent);
    };

    for (let i = 0; i < 10; i++) await send();
    await eventually(
      () => seqsOf(agentEvents.of('message.created'), conversation.id).length === 10,
      () => 'the first 10 messages to reach node B',
    );

    await redis.kill();
    // Whatever fails below, the other tests need Redis back.
    cleanups.push(() => redis.restart());
    // Redis is away: sends are still stored and acknowledged, and this node's agents still hear them.
    for (let i = 0; i < 10; i++) await send();
    await eventually(
      () => seqsOf(sameNodeEvents.of('message.created'), conversation.id).length === 20,
      () => `same-node delivery during the outage: ${seqsOf(sameNodeEvents.of('message.created'), conversation.id)}`,
    );
    const during = await client(nodeA.url).get<{ status: string; checks: Record<string, string> }>('/readyz');
    expect(during.status).toBe(503);
    expect(during.body.checks['redis']).toBe('down');
    expect(during.body.checks['database']).toBe('ok');

    cleanups.pop();
    await redis.restart();
    for (let i = 0; i < 10; i++) await send();

    const expected = Array.from({ length: 30 }, (_, i) => i + 1);
    await eventually(
      () => seqsOf(agentEvents.of('message.created'), conversation.id).length >= 30,
      () => `node B's agent to hear 30 messages, got ${seqsOf(agentEvents.of('message.created'), conversation.id)}`,
      30_000,
    );
    // Anything doubled would arrive right behind the rest; give it the chance before checking.
    await new Promise((r) => setTimeout(r, 1000));
    expect(seqsOf(agentEvents.of('message.created'), conversation.id)).toEqual(expected);
    expect(agentOnB.connected).toBe(true);

    await eventually(
      async () => (await client(nodeA.url).get('/readyz')).status === 200,
      () => '/readyz back to 200 after Redis returned',
    );
    // Both nodes logged the outage and its end; neither crashed.
    expect(nodeA.process.exitCode).toBeNull();
    expect(nodeB.process.exitCode).toBeNull();
    expect(nodeA.output()).not.toMatch(/unhandled/i);
    expect(nodeB.output()).not.toMatch(/unhandled/i);
  }, 90_000);

  test('rate limits are counted across nodes', async () => {
    // Own nodes with a low message limit, so that the other tests are not limited.
    const limited = await Promise.all([
      startNode({ RATE_LIMIT_MESSAGES_PER_MINUTE: '6' }),
      startNode({ RATE_LIMIT_MESSAGES_PER_MINUTE: '6' }),
    ]);
    cleanups.push(async () => {
      for (const node of limited) {
        await node.stop();
        node.cleanup();
      }
    });
    const { token } = await anonymousVisitor(limited[0].url, projectId);
    const sockets = await Promise.all(limited.map((node) => connectVisitor(node.url, token)));
    cleanups.push(() => sockets.forEach((s) => s.close()));
    const { conversation } = await ok<ConversationStartResult>(
      sockets[0] as VisitorClientSocket,
      'conversation:start',
      {},
    );

    const outcomes: string[] = [];
    for (let i = 0; i < 12; i++) {
      const socket = sockets[i % 2] as VisitorClientSocket;
      const response = await command(socket, 'message:send', {
        conversationId: conversation.id,
        text: `try ${i}`,
        clientMessageId: `limit-${i}`,
      });
      outcomes.push(response.ok ? 'ok' : response.error.code);
    }
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(6);
    expect(outcomes.slice(6)).toEqual(Array(6).fill('RATE_LIMITED'));
  }, 60_000);

  test('an agent whose connection drops comes back on the other node and gets what it missed', async () => {
    const visitor = await visitorOn(nodeA);
    const { conversation } = await ok<ConversationStartResult>(visitor, 'conversation:start', { text: 'one' });
    const balancer = await startTcpBalancer([nodeA.port]);
    cleanups.push(() => balancer.close());
    const roaming = await connectAgent(balancer.url, agent.token, { reconnection: true });
    cleanups.push(() => roaming.close());
    const roamingEvents = new EventLog(roaming);
    // One event through the stream first, so the socket holds an offset to recover from.
    await ok(visitor, 'message:send', { conversationId: conversation.id, text: 'two', clientMessageId: 'roam-2' });
    await roamingEvents.wait<MessageCreatedEvent>('message.created', (e) => e.message.seq === 2);

    balancer.setBackends([]);
    balancer.cutAll();
    await eventually(
      () => !roaming.connected,
      () => 'the agent socket to notice the drop',
    );
    for (const seq of [3, 4, 5]) {
      await ok(visitor, 'message:send', {
        conversationId: conversation.id,
        text: `missed ${seq}`,
        clientMessageId: `roam-${seq}`,
      });
    }
    balancer.setBackends([nodeB.port]);

    await eventually(
      () => roaming.connected,
      () => 'the agent socket to reconnect through node B',
    );
    expect(roaming.recovered).toBe(true);
    await eventually(
      () => seqsOf(roamingEvents.of('message.created'), conversation.id).length === 4,
      () => `the missed messages: ${seqsOf(roamingEvents.of('message.created'), conversation.id)}`,
    );
    expect(seqsOf(roamingEvents.of('message.created'), conversation.id)).toEqual([2, 3, 4, 5]);
    expect(roamingEvents.of('sync.reload')).toEqual([]);
  }, 60_000);

  describe('a node dies', () => {
    let balancer: TcpBalancer;
    let visitorClient: VisitorClient;

    afterAll(async () => {
      visitorClient?.close();
      await balancer?.close();
    });

    test('its visitor continues on the other node with the same token, history complete', async () => {
      // The balancer prefers node A while it lives, like a sticky load balancer would.
      balancer = await startTcpBalancer([nodeA.port, nodeB.port]);
      const storage = inspectableStorage();
      visitorClient = createVisitorClient({ url: balancer.url, projectId, storage });
      const conversation = await visitorClient.startConversation({ text: 'before 1' });
      for (let i = 2; i <= 5; i++) await conversation.send(`before ${i}`);
      const userBefore = visitorClient.user?.id;
      const tokenBefore = storage.snapshot();

      await nodeA.kill();
      // Sent while the node is dead: queued by the SDK, delivered through node B.
      const after = Array.from({ length: 5 }, (_, i) => conversation.send(`after ${i + 1}`));
      const stored = await Promise.all(after);
      expect(stored.map((m: Message) => m.seq)).toEqual([6, 7, 8, 9, 10]);

      expect(visitorClient.user?.id).toBe(userBefore);
      expect(storage.snapshot()).toBe(tokenBefore);
      const history = await conversation.history();
      expect(history.map((m) => (m.status === 'sent' ? m.seq : m.status))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(history.every((m) => m.status === 'sent')).toBe(true);

      await eventually(
        () => seqsOf(agentEvents.of('message.created'), conversation.id).length === 10,
        () => `node B's agent to hear all 10: ${seqsOf(agentEvents.of('message.created'), conversation.id)}`,
      );
      expect(seqsOf(agentEvents.of('message.created'), conversation.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }, 60_000);
  });
});

/** A storage whose whole content can be read back, to show the token was not replaced. */
function inspectableStorage(): TokenStorage & { snapshot(): string } {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
    snapshot: () => JSON.stringify([...items]),
  };
}
