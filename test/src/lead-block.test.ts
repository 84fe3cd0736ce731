import fc from 'fast-check';
import { Redis } from 'ioredis';
import { VISITOR_NAMESPACE } from '@parley/protocol';
import { COMMAND_SCHEMAS } from '@parley/protocol/schemas';
import jwt from 'jsonwebtoken';
import { MongoClient, type Db } from 'mongodb';
import type {
  ConversationStartResult,
  ErrorResponse,
  Lead,
  LeadUpdatedEvent,
  LeadUpdateResult,
  VisitorAuthResponse,
} from '@parley/protocol';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startCluster, type Cluster } from './support/cluster';
import { startParley, type ParleyProcess } from './support/parley-process';
import { startRedis, type RedisProcess } from './support/redis-process';
import {
  command,
  connectAgent,
  connectVisitor,
  EventLog,
  ok,
  refusedHandshake,
  type AgentClientSocket,
  type VisitorClientSocket,
} from './support/sockets';
import { outcomeWithin, waitFor } from './support/wait';
import { startMongoWireProxy, type MongoWireProxy } from './support/mongo-wire-proxy';
import { startEmbeddedMongo, type EmbeddedMongo } from '@parley/embedded-mongo';
import { inputArbitrary } from './support/zod-arbitrary';

const KEY_PREFIX = 'block-test:';

/**
 * Blocking a contact (issue 15) on two nodes sharing the database and Redis: the block is
 * enforced on both at once, whichever node the visitor and the agent are on.
 */
describe('blocking a lead across nodes', () => {
  let cluster: Cluster;
  let db: Db;
  let redisClient: Redis;
  let nodeA: ParleyProcess;
  let nodeB: ParleyProcess;
  let projectId: string;
  let secret: string;
  let agent: TestAgent;
  let agentSocket: AgentClientSocket;
  let agentEvents: EventLog;
  const closers: (() => void)[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ env: { REDIS_KEY_PREFIX: KEY_PREFIX } });
    [nodeA, nodeB] = cluster.nodes as [ParleyProcess, ParleyProcess];
    db = cluster.db;
    redisClient = new Redis(cluster.redis.url);
    const created = await createProject(nodeA.url);
    projectId = created.project.id;
    secret = created.secret;
    agent = await createAgent(nodeA.url, projectId, 'agent');
    agentSocket = await connectAgent(nodeB.url, agent.token);
    agentEvents = new EventLog(agentSocket);
  }, 60_000);

  afterEach(() => closers.splice(0).forEach((close) => close()));

  afterAll(async () => {
    agentSocket?.close();
    redisClient?.disconnect();
    await cluster?.stop();
  }, 30_000);

  async function visitorWithLead(name: string) {
    const auth = await anonymousVisitor(nodeA.url, projectId);
    const onA = await connectVisitor(nodeA.url, auth.token);
    const onB = await connectVisitor(nodeB.url, auth.token);
    closers.push(
      () => onA.close(),
      () => onB.close(),
    );
    await ok<LeadUpdateResult>(onA, 'lead:update', { fullname: name });
    const lead = await db.collection('leads').findOne({ projectId, userId: auth.user.id });
    if (!lead) throw new Error('no lead');
    return { auth, onA, onB, leadId: String(lead._id) };
  }

  const block = (leadId: string, token = agent.token, node = nodeB) =>
    client(node.url).post<Lead | ErrorResponse>(`/v1/projects/${projectId}/leads/${leadId}/block`, { token });
  const unblock = (leadId: string, token = agent.token, node = nodeA) =>
    client(node.url).post<Lead | ErrorResponse>(`/v1/projects/${projectId}/leads/${leadId}/unblock`, { token });

  const closed = (socket: VisitorClientSocket) =>
    new Promise<void>((resolve) => {
      if (socket.disconnected) resolve();
      else socket.once('disconnect', () => resolve());
    });

  test('a block closes the sockets on both nodes, refuses the token everywhere, and an unblock restores it', async () => {
    const { auth, onA, onB, leadId } = await visitorWithLead('Spam Bot');
    const started = await ok<ConversationStartResult>(onA, 'conversation:start', {
      text: 'before',
      clientMessageId: 'before-1',
    });
    const closes = [closed(onA), closed(onB)];

    const res = await block(leadId);
    expect(res.status).toBe(200);
    const lead = res.body as Lead;
    expect(lead).toMatchObject({ id: leadId, blocked: true, blockedBy: agent.id });
    expect(typeof lead.blockedAt).toBe('string');
    await Promise.all(closes);

    const event = await agentEvents.wait<LeadUpdatedEvent>(
      'lead.updated',
      (e) => e.lead.id === leadId && e.changes.includes('blocked'),
    );
    expect(event.lead.blocked).toBe(true);
    // The lead's views show it.
    const detail = await client(nodeA.url).get<{ lead: Lead }>(`/v1/projects/${projectId}/leads/${leadId}`, {
      token: agent.token,
    });
    expect(detail.body.lead.blocked).toBe(true);

    // Handshake on either node, refresh and /me: BLOCKED.
    for (const node of [nodeA, nodeB]) {
      const refused = await refusedHandshake(node.url, '/visitor', auth.token);
      expect(refused.message).toBe('BLOCKED');
      expect(refused.data?.code).toBe('BLOCKED');
    }
    const refresh = await client(nodeA.url).post<ErrorResponse>('/v1/auth/refresh', { token: auth.token });
    expect(refresh.status).toBe(403);
    expect(refresh.body.error.code).toBe('BLOCKED');
    const me = await client(nodeB.url).get<ErrorResponse>('/v1/me', { token: auth.token });
    expect(me.body.error.code).toBe('BLOCKED');

    // Blocking again changes nothing and is no error.
    expect((await block(leadId)).status).toBe(200);

    const messagesBefore = await db.collection('messages').countDocuments({ conversationId: started.conversation.id });
    const unblocked = await unblock(leadId);
    expect(unblocked.status).toBe(200);
    expect((unblocked.body as Lead).blocked).toBeUndefined();
    await agentEvents.wait<LeadUpdatedEvent>(
      'lead.updated',
      (e) => e.lead.id === leadId && e.changes.includes('blocked') && e.lead.blocked === undefined,
    );
    // The same token works again, on both nodes.
    const again = await connectVisitor(nodeB.url, auth.token);
    closers.push(() => again.close());
    await ok(again, 'message:send', {
      conversationId: started.conversation.id,
      clientMessageId: 'after-unblock',
      text: 'hello again',
    });
    expect(await db.collection('messages').countDocuments({ conversationId: started.conversation.id })).toBe(
      messagesBefore + 1,
    );
  });

  test('a visitor sending while being blocked: after the block is acknowledged nothing more is stored', async () => {
    const { onA, onB, auth, leadId } = await visitorWithLead('Flooder');
    const started = await ok<ConversationStartResult>(onA, 'conversation:start', {
      text: 'first',
      clientMessageId: 'flood-0',
    });
    const conversationId = started.conversation.id;
    const acked: string[] = [];
    const refused: string[] = [];
    let stop = false;
    // Two tabs on two nodes send as fast as their acks come back until their sockets are closed.
    const flood = async (socket: VisitorClientSocket, tab: string) => {
      for (let i = 0; !stop && socket.connected; i++) {
        const id = `${tab}-${i}`;
        // A send cut off by the socket's close has no ack: stop waiting for it then.
        const response = await Promise.race([
          command(socket, 'message:send', { conversationId, clientMessageId: id, text: id }).catch(() => undefined),
          closed(socket).then(() => undefined),
        ]);
        if (response?.ok) acked.push(id);
        else if (response && !response.ok) refused.push(response.error.code);
      }
    };
    const flooding = Promise.all([flood(onA, 'a'), flood(onB, 'b')]);
    await waitFor('some messages stored', () => acked.length >= 5);

    const res = await block(leadId);
    expect(res.status).toBe(200);
    const storedAtAck = await db.collection('messages').countDocuments({ conversationId });
    stop = true;
    await flooding;

    // Nothing was stored after the block's ack: every later send was refused or cut off.
    expect(await db.collection('messages').countDocuments({ conversationId })).toBe(storedAtAck);
    // And everything acknowledged was stored.
    const stored = await db
      .collection('messages')
      .find({ conversationId, 'sender.id': auth.user.id })
      .project({ clientMessageId: 1 })
      .toArray();
    const storedIds = new Set(stored.map((m) => m['clientMessageId'] as string));
    for (const id of acked) expect(storedIds.has(id)).toBe(true);
    for (const code of refused) expect(['BLOCKED', 'RATE_LIMITED']).toContain(code);

    // A new socket's commands would be refused too, but it cannot even connect.
    expect((await refusedHandshake(nodeA.url, '/visitor', auth.token)).message).toBe('BLOCKED');
    await unblock(leadId);
  });

  test('a socket whose close never came is refused with BLOCKED on its next command', async () => {
    const { onA, auth } = await visitorWithLead('Missed');
    // What a node that missed the block's close sees: the shared state says blocked (at a revision
    // above the lead's), the socket is still open. Its next command is refused all the same.
    await redisClient.set(`${KEY_PREFIX}visitor-block:${projectId}:${auth.user.id}`, JSON.stringify({ v: 1e9, b: 1 }));
    const reply = await command(onA, 'conversation:list', {});
    expect(reply.ok).toBe(false);
    if (!reply.ok) expect(reply.error.code).toBe('BLOCKED');
    const send = await command(onA, 'conversation:start', { text: 'sneaky', clientMessageId: 'missed-1' });
    expect(send.ok).toBe(false);
    expect(await db.collection('messages').countDocuments({ clientMessageId: 'missed-1' })).toBe(0);
    await redisClient.del(`${KEY_PREFIX}visitor-block:${projectId}:${auth.user.id}`);
    // Gone from Redis: the database (not blocked) answers again.
    await ok(onA, 'conversation:list', {});
  });

  test('fuzz: every visitor command of a blocked visitor, with any payload, is refused and stores nothing', async () => {
    const { onA, auth, leadId } = await visitorWithLead('Fuzzed');
    const started = await ok<ConversationStartResult>(onA, 'conversation:start', { text: 'x', clientMessageId: 'f-0' });
    // A socket whose close this node missed (the shared state says blocked; see the test above).
    const key = `${KEY_PREFIX}visitor-block:${projectId}:${auth.user.id}`;
    await redisClient.set(key, JSON.stringify({ v: 1e9, b: 1 }));
    const before = {
      messages: await db.collection('messages').countDocuments({ projectId }),
      conversations: await db.collection('conversations').countDocuments({ userId: auth.user.id }),
      lead: await db.collection('leads').findOne({ _id: leadId as never }),
    };
    const schemas = COMMAND_SCHEMAS[VISITOR_NAMESPACE] as Record<string, Parameters<typeof inputArbitrary>[0]>;
    for (const [name, schema] of Object.entries(schemas)) {
      const payloads = fc.sample(inputArbitrary(schema), { numRuns: 15, seed: 15 });
      // Valid ones aimed at the visitor's own conversation, too.
      payloads.push({ conversationId: started.conversation.id, clientMessageId: `f-${name}`, text: 'hi', seq: 1 });
      for (const payload of payloads) {
        const reply = await command(onA, name, payload);
        expect(reply.ok).toBe(false);
        if (!reply.ok) expect(['BLOCKED', 'BAD_REQUEST']).toContain(reply.error.code);
      }
    }
    expect(await db.collection('messages').countDocuments({ projectId })).toBe(before.messages);
    expect(await db.collection('conversations').countDocuments({ userId: auth.user.id })).toBe(before.conversations);
    expect(await db.collection('leads').findOne({ _id: leadId as never })).toEqual(before.lead);
    await redisClient.del(key);
  });

  test('a block follows the lead through a merge, either way round', async () => {
    const spam = await visitorWithLead('Blocked Source');
    const clean = await visitorWithLead('Clean Target');
    await block(spam.leadId);
    // The target's visitor is still welcome until the merge.
    await ok(clean.onB, 'conversation:list', {});
    const closing = closed(clean.onA);
    const merged = await client(nodeA.url).post<{ lead: Lead }>(
      `/v1/projects/${projectId}/leads/${clean.leadId}/merge`,
      { token: agent.token, body: { sourceLeadIds: [spam.leadId] } },
    );
    expect(merged.status).toBe(200);
    expect(merged.body.lead.blocked).toBe(true);
    await closing;
    expect((await refusedHandshake(nodeB.url, '/visitor', clean.auth.token)).message).toBe('BLOCKED');
    // Blocking the merged-away lead is a conflict: the merged lead is the one to act on.
    expect((await unblock(spam.leadId)).status).toBe(409);

    // Unblocking the merged lead lets both visitors back in.
    expect((await unblock(clean.leadId)).status).toBe(200);
    for (const token of [clean.auth.token, spam.auth.token]) {
      const socket = await connectVisitor(nodeA.url, token);
      closers.push(() => socket.close());
      await ok(socket, 'conversation:list', {});
    }

    // A blocked target: merging a clean source into it blocks the source's visitor.
    const other = await visitorWithLead('Clean Source');
    await block(clean.leadId);
    const otherClosed = closed(other.onB);
    const again = await client(nodeB.url).post<{ lead: Lead }>(
      `/v1/projects/${projectId}/leads/${clean.leadId}/merge`,
      { token: agent.token, body: { sourceLeadIds: [other.leadId] } },
    );
    expect(again.status).toBe(200);
    await otherClosed;
    expect((await refusedHandshake(nodeA.url, '/visitor', other.auth.token)).message).toBe('BLOCKED');
    await unblock(clean.leadId);
  });

  test('a verified visitor of a blocked lead is refused at sign-in, with nothing written', async () => {
    const sign = (claims: Record<string, unknown>) => jwt.sign(claims, secret, { algorithm: 'HS256' });
    const exp = Math.floor(Date.now() / 1000) + 300;
    const first = await client(nodeA.url).post<VisitorAuthResponse>(`/v1/projects/${projectId}/auth/verified`, {
      body: { token: sign({ sub: 'customer-block-1', exp, fullname: 'Verified Spammer' }) },
    });
    expect(first.status).toBe(201);
    const lead = await db.collection('leads').findOne({ projectId, userId: 'customer-block-1' });
    await block(String(lead?._id));
    const refused = await client(nodeB.url).post<ErrorResponse>(`/v1/projects/${projectId}/auth/verified`, {
      body: { token: sign({ sub: 'customer-block-1', exp, fullname: 'Renamed' }) },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('BLOCKED');
    expect((await db.collection('leads').findOne({ _id: lead?._id }))?.['fullname']).toBe('Verified Spammer');
    expect((await refusedHandshake(nodeA.url, '/visitor', first.body.token)).message).toBe('BLOCKED');
    await unblock(String(lead?._id));
    const back = await client(nodeB.url).post<VisitorAuthResponse>(`/v1/projects/${projectId}/auth/verified`, {
      body: { token: sign({ sub: 'customer-block-1', exp }) },
    });
    expect(back.status).toBe(201);
  });

  test('unknown and foreign leads', async () => {
    expect((await block('no-such-lead')).status).toBe(404);
    const other = await createProject(nodeA.url);
    const stranger = await createAgent(nodeA.url, other.project.id, 'owner');
    const { leadId } = await visitorWithLead('Mine');
    expect((await block(leadId, stranger.token)).status).toBe(403);
  });
});

/**
 * The fence, forced: a visitor's message passed the check and is held on its way to the database
 * (the reply to the writer's read of the conversation is held back on the wire). The block must not
 * be answered before that message is stored: after its answer nothing more is.
 */
describe('blocking waits for a command already let through', () => {
  let mongo: EmbeddedMongo;
  let wire: MongoWireProxy;
  let redis: RedisProcess;
  let server: ParleyProcess;
  let mongoClient: MongoClient;

  beforeAll(async () => {
    mongo = await startEmbeddedMongo();
    wire = await startMongoWireProxy(mongo.port);
    redis = await startRedis();
    server = await startParley({ env: { MONGODB_URI: `${wire.uri}/parley`, REDIS_URL: redis.url } });
    mongoClient = new MongoClient(`mongodb://127.0.0.1:${mongo.port}`, { serverSelectionTimeoutMS: 5000 });
    await mongoClient.connect();
  }, 60_000);

  afterAll(async () => {
    await mongoClient?.close();
    await server?.stop();
    server?.cleanup();
    await wire?.close();
    await redis?.stop();
    await mongo?.stop();
  });

  test('the block is answered only after the message in flight is stored', async () => {
    const db = mongoClient.db('parley');
    const projectId = (await createProject(server.url)).project.id;
    const agent = await createAgent(server.url, projectId);
    const auth = await anonymousVisitor(server.url, projectId);
    const socket = await connectVisitor(server.url, auth.token);
    try {
      await ok(socket, 'lead:update', { fullname: 'In flight' });
      const { conversation } = await ok<ConversationStartResult>(socket, 'conversation:start', {});
      const leadId = conversation.leadId;
      const read = wire.holdReplyTo(
        (m) => m.includes('\x02find\x00') && m.includes('conversations') && m.includes(conversation.id),
      );
      const sent = command(socket, 'message:send', {
        conversationId: conversation.id,
        clientMessageId: 'held',
        text: 'x',
      });
      await read.held;

      let storedAtAck: number | undefined;
      const blocked = client(server.url)
        .post<Lead>(`/v1/projects/${projectId}/leads/${leadId}/block`, { token: agent.token })
        .then(async (res) => {
          storedAtAck = await db.collection('messages').countDocuments({ conversationId: conversation.id });
          return res;
        });
      await waitFor(
        'the block written',
        async () => (await db.collection('leads').findOne({ _id: leadId as never }))?.['blocked'],
      );
      // A deadline for "never", far above a block's own time: it must still be waiting.
      expect((await outcomeWithin(blocked, 1500)).state).toBe('pending');
      read.release();
      expect((await blocked).status).toBe(200);
      await sent.catch(() => undefined);
      expect(storedAtAck).toBe(1);
      expect(await db.collection('messages').countDocuments({ conversationId: conversation.id })).toBe(storedAtAck);
    } finally {
      socket.close();
    }
  });
});
