import { createAgentClient, createVisitorClient, type TokenStorage, type VisitorClient } from '@parley/client-sdk';
import { Redis } from 'ioredis';
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
  dropTransport,
  eventNames,
  EventLog,
  ok,
  reconnect,
  wirePackets,
  type AgentClientSocket,
  type VisitorClientSocket,
} from './support/sockets';
import { chaosSeeds, withSeed } from './support/seeded-random';
import { startTcpBalancer, type TcpBalancer } from './support/tcp-balancer';
import { waitFor } from './support/wait';

/** A sample's value in Prometheus text (the first with that name), or NaN. */
function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

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

    await eventually(
      () => seqsOf(agentEvents.of('message.created'), conversation.id).length >= 30,
      () => `node B's agent to hear 30 messages, got ${seqsOf(agentEvents.of('message.created'), conversation.id)}`,
      30_000,
    );
    // Anything doubled (a re-sent XADD) is in the stream before a later message: once message 31
    // arrived, nothing of the first 30 is still on its way.
    await send();
    await eventually(
      () => seqsOf(agentEvents.of('message.created'), conversation.id).includes(31),
      () => `node B's agent to hear message 31: ${seqsOf(agentEvents.of('message.created'), conversation.id)}`,
    );
    const expected = Array.from({ length: 31 }, (_, i) => i + 1);
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

  test('a stalled Redis (no reset, no reply) holds up no send or sign-in, and the other node catches up after', async () => {
    const visitor = await visitorOn(nodeA);
    const sameNodeAgent = await connectAgent(nodeA.url, agent.token);
    cleanups.push(() => sameNodeAgent.close());
    const sameNodeEvents = new EventLog(sameNodeAgent);
    const { conversation } = await ok<ConversationStartResult>(visitor, 'conversation:start', {});
    const send = (n: number) =>
      ok<MessageSendResult>(visitor, 'message:send', {
        conversationId: conversation.id,
        text: `stall ${n}`,
        clientMessageId: `stall-${n}`,
      });
    await send(1);
    await eventually(
      () => seqsOf(agentEvents.of('message.created'), conversation.id).length === 1,
      () => 'the first message to reach node B',
    );

    redis.pause();
    cleanups.push(() => redis.resume());
    // Each is acknowledged (within the helper's 10 s, not after Redis returns) and heard on node A.
    for (const n of [2, 3, 4]) expect((await send(n)).message.seq).toBe(n);
    await eventually(
      () => seqsOf(sameNodeEvents.of('message.created'), conversation.id).length === 4,
      () => `same-node delivery during the stall: ${seqsOf(sameNodeEvents.of('message.created'), conversation.id)}`,
    );
    const signIn = await client(nodeA.url).post(`/v1/projects/${projectId}/auth/anonymous`, { body: {} });
    expect(signIn.status).toBe(201);
    const ready = await client(nodeA.url).get<{ checks: Record<string, string> }>('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks['redis']).toBe('down');

    cleanups.pop();
    redis.resume();
    await send(5);
    await eventually(
      () => seqsOf(agentEvents.of('message.created'), conversation.id).length >= 5,
      () => `node B to catch up: ${seqsOf(agentEvents.of('message.created'), conversation.id)}`,
      30_000,
    );
    // A later message proves nothing of the first five is still on its way (stream order).
    await send(6);
    await eventually(
      () =>
        seqsOf(agentEvents.of('message.created'), conversation.id).includes(6) &&
        seqsOf(sameNodeEvents.of('message.created'), conversation.id).includes(6),
      () => `message 6 on both nodes: ${seqsOf(agentEvents.of('message.created'), conversation.id)}`,
    );
    expect(seqsOf(agentEvents.of('message.created'), conversation.id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seqsOf(sameNodeEvents.of('message.created'), conversation.id)).toEqual([1, 2, 3, 4, 5, 6]);
  }, 90_000);

  test('a node that starts while Redis is out of its reach gets, once it is not, what was sent meanwhile', async () => {
    // Node B reaches Redis through a balancer that refuses it for now; node A reaches it directly.
    const route = await startTcpBalancer([]);
    const late = await startNode({ REDIS_URL: `redis://127.0.0.1:${route.port}` });
    cleanups.push(async () => {
      await late.stop();
      late.cleanup();
      await route.close();
    });
    const listening = await connectAgent(late.url, agent.token);
    cleanups.push(() => listening.close());
    const events = new EventLog(listening);
    const visitor = await visitorOn(nodeA);
    const { conversation } = await ok<ConversationStartResult>(visitor, 'conversation:start', { text: 'early 1' });
    for (const n of [2, 3]) {
      await ok(visitor, 'message:send', {
        conversationId: conversation.id,
        text: `early ${n}`,
        clientMessageId: `early-${n}`,
      });
    }

    // Written to the stream before node B ever read it: B must not start reading after them.
    route.setBackends([redis.port]);
    await eventually(
      async () => (await client(late.url).get('/readyz')).status === 200,
      () => 'node B to reach Redis',
    );
    await ok(visitor, 'message:send', { conversationId: conversation.id, text: 'early 4', clientMessageId: 'early-4' });
    await eventually(
      () => seqsOf(events.of('message.created'), conversation.id).length >= 4,
      () => `node B to hear all 4: ${seqsOf(events.of('message.created'), conversation.id)}`,
      30_000,
    );
    // A later message proves nothing of the first four is still on its way (stream order).
    await ok(visitor, 'message:send', { conversationId: conversation.id, text: 'early 5', clientMessageId: 'early-5' });
    await events.wait<MessageCreatedEvent>(
      'message.created',
      (e) => e.message.conversationId === conversation.id && e.message.seq === 5,
      10_000,
    );
    expect(seqsOf(events.of('message.created'), conversation.id)).toEqual([1, 2, 3, 4, 5]);
  }, 90_000);

  test('pushes a node had to drop during a long outage make the other nodes reload, and /metrics counts them', async () => {
    // A small stream, so that the queue of pushes waiting for Redis is capped at 100.
    const small = await Promise.all([
      startNode({ REDIS_STREAM_MAXLEN: '1000' }),
      startNode({ REDIS_STREAM_MAXLEN: '1000' }),
    ]);
    const [sender, receiver] = small as [ParleyProcess, ParleyProcess];
    cleanups.push(async () => {
      for (const node of small) {
        await node.stop();
        node.cleanup();
      }
    });
    const listening = await connectAgent(receiver.url, agent.token);
    cleanups.push(() => listening.close());
    const events = new EventLog(listening);
    // A visitor (through the SDK) on the receiving node; the agent answering is on the other one.
    const visitorClient = createVisitorClient({ url: receiver.url, projectId, storage: inspectableStorage() });
    cleanups.push(() => visitorClient.close());
    const conversation = await visitorClient.startConversation({ text: 'first' });
    const replying = await connectAgent(sender.url, agent.token);
    cleanups.push(() => replying.close());
    // And an agent console through the SDK on the receiving node.
    const console = createAgentClient({ url: receiver.url, token: agent.token });
    cleanups.push(() => console.close());
    const consoleReloads: string[] = [];
    console.on('reload', (event) => consoleReloads.push(event.reason));
    await eventually(
      () => console.status === 'connected',
      () => 'the console to connect',
    );
    await events.wait<MessageCreatedEvent>(
      'message.created',
      (e) => e.message.conversationId === conversation.id,
      10_000,
    );

    redis.pause();
    cleanups.push(() => redis.resume());
    // Each message is two pushes (agents' room, visitor's room): 80 of them is more than 100 pushes.
    await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        ok(replying, 'message:send', { conversationId: conversation.id, text: `m ${i}`, clientMessageId: `drop-${i}` }),
      ),
    );
    const during = (await client(sender.url).get<string>('/metrics')).text;
    expect(metric(during, 'parley_cluster_dropped_pushes_total')).toBeGreaterThan(0);
    expect(metric(during, 'parley_cluster_pending_pushes')).toBeGreaterThan(0);

    cleanups.pop();
    redis.resume();
    const reload = await events.wait<{ reason: string }>('sync.reload', () => true, 30_000);
    expect(reload.reason).toBe('pushes_dropped');
    await eventually(
      () => consoleReloads.includes('pushes_dropped'),
      () => `the console to be told to reload: ${consoleReloads}`,
    );
    // The visitor's SDK was told too, and caught up by seq: every reply, in order, once.
    const sent = () => conversation.messages.filter((m) => m.status === 'sent').map((m) => m.seq);
    await eventually(
      () => sent().length >= 81,
      () => `the visitor to catch up: ${sent().length} of 81`,
      30_000,
    );
    expect(sent()).toEqual(Array.from({ length: 81 }, (_, i) => i + 1));
    await eventually(
      async () =>
        metric((await client(sender.url).get<string>('/metrics')).text, 'parley_cluster_pending_pushes') === 0,
      () => 'the pushes that waited to be sent',
      30_000,
    );
  }, 120_000);

  test('typing indicators are not queued through an outage', async () => {
    const visitor = await visitorOn(nodeA);
    const { conversation } = await ok<ConversationStartResult>(visitor, 'conversation:start', { text: 'hello' });
    await agentEvents.wait<MessageCreatedEvent>(
      'message.created',
      (e) => e.message.conversationId === conversation.id,
      10_000,
    );

    await redis.kill();
    cleanups.push(() => redis.restart());
    // What is promised is about a node that knows Redis is away: a typing sent in the instant
    // before it notices is in flight like any packet (ioredis re-sends it), so wait for node A to see it.
    await eventually(
      async () => (await client(nodeA.url).get('/readyz')).status === 503,
      () => 'node A to see Redis gone',
    );
    await ok(visitor, 'typing', { conversationId: conversation.id, typing: true });
    await ok(visitor, 'message:send', {
      conversationId: conversation.id,
      text: 'after typing',
      clientMessageId: 'typed',
    });
    cleanups.pop();
    await redis.restart();

    await eventually(
      () => seqsOf(agentEvents.of('message.created'), conversation.id).length === 2,
      () => 'the message sent during the outage',
      30_000,
    );
    // The typing was sent before that message; a later message proves nothing of it is on its way.
    await ok(visitor, 'message:send', { conversationId: conversation.id, text: 'marker', clientMessageId: 'marker' });
    await eventually(
      () => seqsOf(agentEvents.of('message.created'), conversation.id).length === 3,
      () => 'the marker message',
    );
    const typing = agentEvents
      .of<{ conversationId: string }>('typing')
      .filter((e) => e.conversationId === conversation.id);
    expect(typing).toEqual([]);
  }, 90_000);

  test('a recovery from an offset older than the recovery window is refused, and the console reloads', async () => {
    const short = await startNode({ RECOVERY_WINDOW: '2s' });
    cleanups.push(async () => {
      await short.stop();
      short.cleanup();
    });
    const socket = await connectAgent(short.url, agent.token);
    cleanups.push(() => socket.close());
    const events = new EventLog(socket);
    const visitor = await visitorOn(short);
    const { conversation } = await ok<ConversationStartResult>(visitor, 'conversation:start', { text: 'old' });
    await events.wait<MessageCreatedEvent>(
      'message.created',
      (e) => e.message.conversationId === conversation.id,
      10_000,
    );
    const client_ = socket as unknown as { _lastOffset: string };
    const old = client_._lastOffset;
    // Older than the window (2 s) and the adapter's allowance for clock differences (5 s) by the time
    // it is used: the time in a stream id is what the node judges an offset's age by.
    const offsetTime = Number(old.split('-')[0]);
    await waitFor(
      'the offset to be older than the recovery window',
      () => Date.now() > offsetTime + 2_000 + 5_000 + 200,
      {
        timeoutMs: 15_000,
        intervalMs: 100,
      },
    );
    await ok(visitor, 'message:send', { conversationId: conversation.id, text: 'new', clientMessageId: 'new' });
    await events.wait<MessageCreatedEvent>('message.created', (e) => e.message.seq === 2, 10_000);

    await dropTransport(socket);
    // The session is fresh; the position it asks to replay from is not (it could be any old id).
    client_._lastOffset = old;
    expect(await reconnect(socket)).toBe('connected');
    expect(socket.recovered).toBe(false);
    await events.wait('sync.reload', () => true, 5_000);
    expect(seqsOf(events.of('message.created'), conversation.id)).toEqual([1, 2]);
  }, 60_000);

  test('visitor sockets are not kept for recovery (their SDK catches up by seq)', async () => {
    const visitor = await connectVisitor(nodeA.url, (await anonymousVisitor(nodeA.url, projectId)).token);
    cleanups.push(() => visitor.close());
    const events = new EventLog(visitor);
    const { conversation } = await ok<ConversationStartResult>(visitor, 'conversation:start', {});
    await ok(agentOnB, 'message:send', { conversationId: conversation.id, text: 'reply', clientMessageId: 'v-1' });
    await events.wait<MessageCreatedEvent>(
      'message.created',
      (e) => e.message.conversationId === conversation.id,
      10_000,
    );

    // An agent socket on the same node, dropped after the visitor's: its session is kept, and the
    // node writes to Redis in order, so once the agent's is there the visitor's would be too.
    const marker = await connectAgent(nodeA.url, agent.token);
    cleanups.push(() => marker.close());
    await dropTransport(visitor);
    const pid = (visitor as unknown as { _pid?: string })._pid;
    await dropTransport(marker);
    const markerPid = (marker as unknown as { _pid?: string })._pid;
    const inspector = new Redis(redis.url);
    cleanups.push(() => inspector.disconnect());
    await waitFor('the agent session to be kept', async () =>
      (await inspector.keys('parley:socket.io:session:*')).includes(`parley:socket.io:session:${markerPid}`),
    );
    expect(await inspector.keys('parley:socket.io:session:*')).not.toContain(`parley:socket.io:session:${pid}`);
    expect(await reconnect(visitor)).toBe('connected');
    expect(visitor.recovered).toBe(false);
  }, 30_000);

  test("a dropped agent's session is no one else's: another project's token on another node starts afresh", async () => {
    const other = await createProject(nodeA.url);
    const outsider = await createAgent(nodeA.url, other.project.id);
    const visitor = await visitorOn(nodeA);
    const { conversation } = await ok<ConversationStartResult>(visitor, 'conversation:start', { text: 'mine' });
    const balancer = await startTcpBalancer([nodeA.port]);
    cleanups.push(() => balancer.close());
    const victim = await connectAgent(balancer.url, agent.token);
    cleanups.push(() => victim.close());
    await ok(visitor, 'message:send', { conversationId: conversation.id, text: 'two', clientMessageId: 'victim-2' });
    await new EventLog(victim).wait<MessageCreatedEvent>('message.created', (e) => e.message.seq === 2, 10_000);

    await dropTransport(victim);
    await ok(visitor, 'message:send', { conversationId: conversation.id, text: 'secret', clientMessageId: 'victim-3' });
    balancer.setBackends([nodeB.port]);
    victim.auth = { token: outsider.token };
    const wire = wirePackets(victim);
    expect(await reconnect(victim)).toBe('connected');
    await eventually(
      () => eventNames(wire).includes('sync.reload'),
      () => `a reload: ${eventNames(wire)}`,
    );
    await ok(visitor, 'message:send', { conversationId: conversation.id, text: 'later', clientMessageId: 'victim-4' });
    // A message in the outsider's own project, sent from node A after 'later': once it arrived,
    // 'later' (in stream order before it) would have too.
    const otherVisitor = await connectVisitor(nodeA.url, (await anonymousVisitor(nodeA.url, other.project.id)).token);
    cleanups.push(() => otherVisitor.close());
    await ok(otherVisitor, 'conversation:start', { text: 'marker' });
    await eventually(
      () => eventNames(wire).includes('message.created'),
      () => `the outsider's own project's message: ${eventNames(wire)}`,
    );
    // The outsider's own arrival in its own project (agent.presence) may come any time; else the
    // reload comes first.
    expect(eventNames(wire).filter((name) => name !== 'agent.presence')[0]).toBe('sync.reload');
    expect(JSON.stringify(wire)).not.toContain(conversation.id);
    expect(JSON.stringify(wire)).not.toMatch(/secret|later|"two"/);
  }, 60_000);

  /**
   * A node killed at a seeded moment while a visitor's and an agent's sends are in flight through
   * it (some written, some recorded, some neither): the clients carry on through the other node,
   * every message is stored once, and every client ends with exactly what the server stores, each
   * message at the seq it was stored at. `CHAOS_RUNS=N` searches N moments, `CHAOS_SEED` replays one.
   */
  test.each(chaosSeeds())(
    'a node killed mid-write at a seeded moment: every message once, at one seq, on every client (seed %i)',
    (seed) =>
      withSeed('test/src/scale-out.test.ts', seed, async (random) => {
        const doomed = await startNode();
        const balancer = await startTcpBalancer([doomed.port, nodeB.port]);
        const visitor = createVisitorClient({ url: balancer.url, projectId, storage: inspectableStorage() });
        const agentClient = createAgentClient({ url: balancer.url, email: agent.email, password: agent.password });
        cleanups.push(async () => {
          visitor.close();
          agentClient.close();
          await balancer.close();
          await doomed.kill();
          doomed.cleanup();
        });
        const conversation = await visitor.startConversation({ text: 'hello' });
        await agentClient.ready;
        await agentClient.conversations.join(conversation.id);

        const SENDS = 30;
        const texts = Array.from({ length: SENDS }, (_, i) => `${i % 2 ? 'agent' : 'visitor'} ${i}`);
        const sends = texts.map((text, i) =>
          i % 2 ? agentClient.conversations.send(conversation.id, text) : conversation.send(text),
        );
        await new Promise((r) => setTimeout(r, random.int(0, 300)));
        await doomed.kill();
        await Promise.all(sends);

        const res = await client(nodeB.url).get<{ items: Message[] }>(
          `/v1/projects/${projectId}/conversations/${conversation.id}/messages?afterSeq=0&limit=200`,
          { token: agent.token },
        );
        const stored = res.body.items;
        expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: SENDS + 1 }, (_, i) => i + 1));
        expect(stored.map((m) => m.text).sort()).toEqual(['hello', ...texts].sort());
        const storedIds = stored.map((m) => `${m.seq} ${m.clientMessageId}`);
        const held = (list: { status: string; seq?: number; clientMessageId: string }[]) =>
          list.map((m) => (m.status === 'sent' ? `${m.seq ?? '-'} ${m.clientMessageId}` : m.status));
        await eventually(
          () =>
            conversation.messages.length === SENDS + 1 &&
            agentClient.conversations.messages(conversation.id).length === SENDS + 1,
          () => `both clients to hold ${SENDS + 1}`,
          30_000,
        );
        expect(held(conversation.messages)).toEqual(storedIds);
        expect(held(agentClient.conversations.messages(conversation.id))).toEqual(storedIds);
      }),
    90_000,
  );

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

      // Node A may have died with pushes not yet written to Redis: the agents still here reload.
      const reload = await agentEvents.wait<{ reason: string }>('sync.reload', (e) => e.reason === 'node_lost', 30_000);
      expect(reload.reason).toBe('node_lost');
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
