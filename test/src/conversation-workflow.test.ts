import type {
  AckResponse,
  CannedResponse,
  Conversation,
  ConversationReadResult,
  ConversationResult,
  ConversationStartResult,
  ConversationUpdatedEvent,
  ErrorResponse,
  MessagePage,
  MessageReadEvent,
  MessageSendResult,
  Page,
} from '@parley/protocol';
import { startDatabase, type TestDatabase } from './support/database';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
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
import { waitFor } from './support/wait';

/** Conversations as protocol 1.0 stored them, written before the nodes start (the migration's input). */
const LEGACY = { assigned: 'legacy-assigned', closed: 'legacy-closed' };

/**
 * The conversation workflow on two gateway nodes sharing a database and a Redis: statuses and
 * their notes, snoozes that end on time on whichever node is alive, read positions and unread
 * counts, the reply policy of resolved conversations, canned responses, and the migration of
 * protocol 1.0's statuses.
 */
describe('conversation workflow', () => {
  let database: TestDatabase;
  let redis: RedisProcess;
  let nodeA: ParleyProcess;
  let nodeB: ParleyProcess;
  let projectId: string;
  let ana: TestAgent;
  let ben: TestAgent;
  /** Ana's console on node B, Ben's on node A: every push crosses nodes for one of them. */
  let anaOnB: AgentClientSocket;
  let benOnA: AgentClientSocket;
  let anaEvents: EventLog;
  let benEvents: EventLog;
  const sockets: { close(): void }[] = [];

  const startNode = () =>
    startParley({ env: { MONGODB_URI: database.uri, REDIS_URL: redis.url, WORKFLOW_SWEEP_INTERVAL: '300ms' } });

  beforeAll(async () => {
    [database, redis] = await Promise.all([startDatabase(), startRedis()]);
    const now = new Date();
    const legacy = { projectId: 'p-legacy', leadId: 'l', userId: 'u', participants: [], messageCount: 0, lastSeq: 0 };
    await database.db.collection('conversations').insertMany([
      {
        _id: LEGACY.assigned as never,
        ...legacy,
        status: 'assigned',
        assigneeId: 'a1',
        attributes: {},
        createdAt: now,
        updatedAt: now,
      },
      {
        _id: LEGACY.closed as never,
        ...legacy,
        status: 'closed',
        closedAt: now,
        attributes: {},
        createdAt: now,
        updatedAt: now,
      },
    ]);
    [nodeA, nodeB] = await Promise.all([startNode(), startNode()]);
    projectId = (await createProject(nodeA.url)).project.id;
    [ana, ben] = await Promise.all([createAgent(nodeA.url, projectId, 'owner'), createAgent(nodeA.url, projectId)]);
    [anaOnB, benOnA] = await Promise.all([connectAgent(nodeB.url, ana.token), connectAgent(nodeA.url, ben.token)]);
    anaEvents = new EventLog(anaOnB);
    benEvents = new EventLog(benOnA);
  }, 60_000);

  afterEach(() => sockets.splice(0).forEach((s) => s.close()));

  afterAll(async () => {
    anaOnB?.close();
    benOnA?.close();
    for (const node of [nodeA, nodeB]) {
      await node?.stop();
      node?.cleanup();
    }
    await redis?.stop();
    await database?.stop();
  }, 30_000);

  const api = (node: ParleyProcess = nodeA) => client(node.url);
  const nameOf = (agent: TestAgent) => `Agent ${agent.email}`;

  async function visitorOn(node: ParleyProcess) {
    const { token, user } = await anonymousVisitor(node.url, projectId);
    const socket = await connectVisitor(node.url, token);
    sockets.push(socket);
    return { socket, userId: user.id, events: new EventLog(socket) };
  }

  async function agentSocket(node: ParleyProcess, agent: TestAgent) {
    const socket = await connectAgent(node.url, agent.token);
    sockets.push(socket);
    return socket;
  }

  async function started(visitor: VisitorClientSocket, text = 'hello'): Promise<Conversation> {
    return (await ok<ConversationStartResult>(visitor, 'conversation:start', { text })).conversation;
  }

  const history = async (conversationId: string) =>
    (
      await api().get<MessagePage>(`/v1/projects/${projectId}/conversations/${conversationId}/messages?limit=200`, {
        token: ana.token,
      })
    ).body.items;

  const stored = (conversationId: string) =>
    database.db.collection('conversations').findOne({ _id: conversationId as never });

  const updated = (log: EventLog, id: string, predicate: (e: ConversationUpdatedEvent) => boolean = () => true) =>
    log.wait<ConversationUpdatedEvent>('conversation.updated', (e) => e.conversation.id === id && predicate(e));

  it('migrated the stored statuses of protocol 1.0 at start: assigned → open (assignee kept), closed → resolved', async () => {
    expect(await stored(LEGACY.assigned)).toMatchObject({ status: 'open', assigneeId: 'a1' });
    const closed = await stored(LEGACY.closed);
    expect(closed).toMatchObject({ status: 'resolved' });
    expect(closed?.['resolvedAt']).toBeInstanceOf(Date);
    expect(closed?.['closedAt']).toBeUndefined();
    expect(await database.db.collection('migrations').countDocuments({ _id: 'conversation-statuses-2' as never })).toBe(
      1,
    );
  });

  it('moves a conversation between statuses, each change pushed with who made it and written in the history', async () => {
    const visitor = await visitorOn(nodeA);
    const conversation = await started(visitor.socket);
    const anaOnA = await agentSocket(nodeA, ana);
    const by = { type: 'agent', id: ana.id, name: nameOf(ana) };

    const pending = await ok<ConversationResult>(anaOnA, 'conversation:pend', { conversationId: conversation.id });
    expect(pending.conversation.status).toBe('pending');
    for (const log of [benEvents, anaEvents, visitor.events])
      expect((await updated(log, conversation.id, (e) => e.conversation.status === 'pending')).change).toEqual({
        by,
        previousStatus: 'open',
      });

    const resolved = await ok<ConversationResult>(anaOnA, 'conversation:resolve', { conversationId: conversation.id });
    expect(resolved.conversation).toMatchObject({ status: 'resolved', resolvedAt: expect.any(String) });
    await updated(benEvents, conversation.id, (e) => e.change.previousStatus === 'pending');

    // Resolving again changes nothing and announces nothing.
    benEvents.clear();
    const again = await ok<ConversationResult>(anaOnA, 'conversation:resolve', { conversationId: conversation.id });
    // (Its note may have been written meanwhile: the end of the conversation moves, not its status.)
    expect(again.conversation).toMatchObject({ status: 'resolved', resolvedAt: resolved.conversation.resolvedAt });

    const reopened = await ok<ConversationResult>(anaOnA, 'conversation:reopen', { conversationId: conversation.id });
    expect(reopened.conversation.status).toBe('open');
    expect(reopened.conversation.resolvedAt).toBeUndefined();
    await updated(benEvents, conversation.id, (e) => e.conversation.status === 'open');
    expect(benEvents.of<ConversationUpdatedEvent>('conversation.updated').map((e) => e.change.previousStatus)).toEqual([
      'resolved',
    ]);

    // The deprecated alias resolves.
    const closed = await ok<ConversationResult>(anaOnA, 'conversation:close', { conversationId: conversation.id });
    expect(closed.conversation.status).toBe('resolved');

    // Every change is in the history as a system message, in order, after the visitor's first.
    const name = nameOf(ana);
    await waitFor('four status notes', async () => (await history(conversation.id)).length === 5);
    expect((await history(conversation.id)).map((m) => [m.sender.role, m.text])).toEqual([
      ['visitor', 'hello'],
      ['system', `${name} marked the conversation as pending`],
      ['system', `${name} resolved the conversation`],
      ['system', `${name} reopened the conversation`],
      ['system', `${name} resolved the conversation`],
    ]);
    expect((await stored(conversation.id))?.['pendingNotes']).toEqual([]);
  });

  it('opens again a resolved conversation the visitor writes to (the default), saying who did it', async () => {
    const visitor = await visitorOn(nodeA);
    const conversation = await started(visitor.socket);
    await ok(benOnA, 'conversation:resolve', { conversationId: conversation.id });
    const sent = await ok<MessageSendResult>(visitor.socket, 'message:send', {
      conversationId: conversation.id,
      clientMessageId: 'again',
      text: 'one more thing',
    });
    expect(sent.conversation).toBeUndefined();
    expect(sent.message.conversationId).toBe(conversation.id);
    const reopened = await updated(anaEvents, conversation.id, (e) => e.conversation.status === 'open');
    expect(reopened.change).toEqual({ by: { type: 'visitor', id: visitor.userId }, previousStatus: 'resolved' });
  });

  it('continues a resolved conversation in one new conversation when the project says so', async () => {
    const patched = await api().patch(`/v1/projects/${projectId}`, {
      token: ana.token,
      body: { resolvedConversationReply: 'new' },
    });
    expect(patched.body).toMatchObject({ project: { resolvedConversationReply: 'new' } });
    try {
      // On node A, whose project cache the change cleared.
      const visitor = await visitorOn(nodeA);
      const old = await started(visitor.socket);
      await ok(benOnA, 'conversation:resolve', { conversationId: old.id });

      const first = await ok<MessageSendResult>(visitor.socket, 'message:send', {
        conversationId: old.id,
        clientMessageId: 'after-1',
        text: 'back again',
      });
      const next = first.conversation;
      expect(next).toMatchObject({ status: 'open', userId: visitor.userId });
      expect(next?.id).not.toBe(old.id);
      expect(first.message).toMatchObject({ conversationId: next?.id, seq: 1, text: 'back again' });
      await visitor.events.wait<{ conversation: Conversation }>(
        'conversation.created',
        (e) => e.conversation.id === next?.id,
      );
      await anaEvents.wait<{ conversation: Conversation }>(
        'conversation.created',
        (e) => e.conversation.id === next?.id,
      );

      // A retry (the ack was lost) and a later message to the old id land in the same new one, once.
      const retried = await ok<MessageSendResult>(visitor.socket, 'message:send', {
        conversationId: old.id,
        clientMessageId: 'after-1',
        text: 'back again',
      });
      expect(retried.message.id).toBe(first.message.id);
      const second = await ok<MessageSendResult>(visitor.socket, 'message:send', {
        conversationId: old.id,
        clientMessageId: 'after-2',
        text: 'and again',
      });
      expect(second.message).toMatchObject({ conversationId: next?.id, seq: 2 });
      expect((await stored(old.id))?.['status']).toBe('resolved');
      await waitFor('the resolve note', async () => (await history(old.id)).length === 2);
      expect((await history(old.id)).map((m) => m.sender.role)).toEqual(['visitor', 'system']);
      const mine = await ok<{ conversations: Conversation[] }>(visitor.socket, 'conversation:list', {});
      expect(mine.conversations.map((c) => c.id).sort()).toEqual([old.id, next?.id].sort());
    } finally {
      await api().patch(`/v1/projects/${projectId}`, {
        token: ana.token,
        body: { resolvedConversationReply: 'reopen' },
      });
    }
  });

  it('ends a snooze on time on the node left alive after the node that snoozed it was killed', async () => {
    const extra = await startNode();
    try {
      const visitor = await visitorOn(nodeB);
      const conversation = await started(visitor.socket);
      const anaOnExtra = await agentSocket(extra, ana);
      const until = new Date(Date.now() + 2_000).toISOString();
      const snoozed = await ok<ConversationResult>(anaOnExtra, 'conversation:snooze', {
        conversationId: conversation.id,
        until,
      });
      expect(snoozed.conversation).toMatchObject({ status: 'snoozed', snoozedUntil: until });
      await updated(anaEvents, conversation.id, (e) => e.conversation.status === 'snoozed');
      await extra.kill();

      const woken = await updated(anaEvents, conversation.id, (e) => e.conversation.status === 'open');
      const heardAt = Date.now();
      expect(woken.change).toEqual({ by: { type: 'system' }, previousStatus: 'snoozed' });
      expect(woken.conversation.snoozedUntil).toBeUndefined();
      // Not before its time (one clock: all processes run on this machine).
      expect(heardAt).toBeGreaterThanOrEqual(Date.parse(until));
      await waitFor('the wake-up note', async () =>
        (await history(conversation.id)).some((m) => m.text === 'The snooze ended: the conversation is open again'),
      );
      // Woken once, though two nodes sweep: a change made after it (on the node that woke it or
      // the other) is heard after any second wake-up would have been.
      await ok(anaOnB, 'conversation:pend', { conversationId: conversation.id });
      await updated(anaEvents, conversation.id, (e) => e.conversation.status === 'pending');
      expect(
        anaEvents
          .of<ConversationUpdatedEvent>('conversation.updated')
          .filter((e) => e.conversation.id === conversation.id && e.change.by.type === 'system'),
      ).toHaveLength(1);
    } finally {
      await extra.kill();
      extra.cleanup();
    }
  }, 60_000);

  it('ends a snooze at once when the visitor writes', async () => {
    const visitor = await visitorOn(nodeA);
    const conversation = await started(visitor.socket);
    await ok(benOnA, 'conversation:snooze', {
      conversationId: conversation.id,
      until: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await ok(visitor.socket, 'message:send', { conversationId: conversation.id, clientMessageId: 'wake', text: 'hi?' });
    const woken = await updated(benEvents, conversation.id, (e) => e.conversation.status === 'open');
    expect(woken.change).toEqual({ by: { type: 'visitor', id: visitor.userId }, previousStatus: 'snoozed' });
    expect((await stored(conversation.id))?.['snoozedUntil']).toBeUndefined();
  });

  it('refuses bad input with BAD_REQUEST or NOT_FOUND and changes nothing', async () => {
    const visitor = await visitorOn(nodeA);
    const conversation = await started(visitor.socket);
    const before = await stored(conversation.id);
    benEvents.clear();
    const expectCode = async (
      socket: AgentClientSocket | VisitorClientSocket,
      name: string,
      payload: unknown,
      code: string,
    ) => {
      const ack: AckResponse<unknown> = await command(socket, name, payload);
      expect({ name, payload, code: ack.ok ? 'ok' : ack.error.code }).toEqual({ name, payload, code });
    };
    const id = conversation.id;
    await expectCode(
      benOnA,
      'conversation:snooze',
      { conversationId: id, until: new Date(Date.now() - 1000).toISOString() },
      'BAD_REQUEST',
    );
    await expectCode(
      benOnA,
      'conversation:snooze',
      { conversationId: id, until: '2999-01-01T00:00:00Z' },
      'BAD_REQUEST',
    );
    await expectCode(benOnA, 'conversation:snooze', { conversationId: id, until: 'tomorrow' }, 'BAD_REQUEST');
    await expectCode(benOnA, 'conversation:snooze', { conversationId: id }, 'BAD_REQUEST');
    await expectCode(benOnA, 'conversation:resolve', { conversationId: id, status: 'closed' }, 'BAD_REQUEST');
    await expectCode(benOnA, 'conversation:resolve', { conversationId: 'no-such-conversation' }, 'NOT_FOUND');
    await expectCode(benOnA, 'conversation:read', { conversationId: id, seq: 2 }, 'BAD_REQUEST');
    await expectCode(benOnA, 'conversation:read', { conversationId: id, seq: 0 }, 'BAD_REQUEST');
    await expectCode(visitor.socket, 'conversation:read', { conversationId: id, seq: 5 }, 'BAD_REQUEST');
    // Another visitor's conversation does not exist for this one.
    const stranger = await visitorOn(nodeA);
    await expectCode(stranger.socket, 'conversation:read', { conversationId: id, seq: 1 }, 'NOT_FOUND');

    for (const status of ['assigned', 'closed', 'waiting'])
      expect(
        (
          await api().get<ErrorResponse>(`/v1/projects/${projectId}/conversations?status=${status}`, {
            token: ana.token,
          })
        ).status,
      ).toBe(400);

    // Every refusal was acknowledged, so a write it made would be in the database by now.
    expect(await stored(conversation.id)).toEqual(before);
    // A push any of them made would reach Ben before this marker, made after them on the same node.
    await ok(visitor.socket, 'conversation:read', { conversationId: id, seq: 1 });
    await benEvents.wait<MessageReadEvent>('message.read', (e) => e.conversationId === id);
    type About = { conversationId?: string; conversation?: { id: string } };
    const about = (e: About) => (e.conversationId ?? e.conversation?.id) === id;
    expect(
      [...benEvents.of<About>('conversation.updated'), ...benEvents.of<About>('message.read')].filter(about),
    ).toEqual([
      expect.objectContaining({ conversationId: id, seq: 1, reader: expect.objectContaining({ role: 'visitor' }) }),
    ]);
  });

  it('keeps read positions per reader, only forward, with receipts to the other side and exact unread counts', async () => {
    const visitor = await visitorOn(nodeA);
    const conversation = await started(visitor.socket, 'q1');
    for (const text of ['q2', 'q3'])
      await ok(visitor.socket, 'message:send', { conversationId: conversation.id, clientMessageId: text, text });
    const anaOnA = await agentSocket(nodeA, ana);
    const reply = await ok<MessageSendResult>(anaOnA, 'message:send', {
      conversationId: conversation.id,
      clientMessageId: 'r1',
      text: 'answer',
    });
    expect(reply.message.seq).toBe(4);

    const unreadOf = async (agent: TestAgent, node: ParleyProcess) =>
      (
        await api(node).get<{ conversation: Conversation }>(
          `/v1/projects/${projectId}/conversations/${conversation.id}`,
          {
            token: agent.token,
          },
        )
      ).body.conversation;
    // The agents' own messages are not unread to them; the visitor's three are, to each agent.
    expect(await unreadOf(ana, nodeA)).toMatchObject({ unreadCount: 3, readSeq: 0, lastSeq: 4 });
    expect(await unreadOf(ben, nodeB)).toMatchObject({ unreadCount: 3, readSeq: 0 });

    // Ana reads on node A up to seq 2: her other console (node B) hears her new count, the visitor a
    // receipt without it, Ben nothing.
    const read = await ok<ConversationReadResult>(anaOnA, 'conversation:read', {
      conversationId: conversation.id,
      seq: 2,
    });
    expect(read).toEqual({ conversationId: conversation.id, seq: 2, unreadCount: 1, lastSeq: 4 });
    const own = await anaEvents.wait<MessageReadEvent>('message.read', (e) => e.conversationId === conversation.id);
    expect(own).toMatchObject({ seq: 2, unreadCount: 1, lastSeq: 4, reader: { id: ana.id, role: 'agent' } });
    const receipt = await visitor.events.wait<MessageReadEvent>('message.read', (e) => e.reader.id === ana.id);
    expect(receipt.seq).toBe(2);
    expect(receipt.unreadCount).toBeUndefined();
    expect(await unreadOf(ana, nodeB)).toMatchObject({ unreadCount: 1, readSeq: 2 });
    expect(await unreadOf(ben, nodeB)).toMatchObject({ unreadCount: 3, readSeq: 0 });

    // Backwards changes nothing and pushes nothing.
    anaEvents.clear();
    const back = await ok<ConversationReadResult>(anaOnA, 'conversation:read', {
      conversationId: conversation.id,
      seq: 1,
    });
    expect(back).toMatchObject({ seq: 2, unreadCount: 1 });
    // The next read forward is pushed: nothing came before it.
    await ok(anaOnA, 'conversation:read', { conversationId: conversation.id, seq: 3 });
    await anaEvents.wait<MessageReadEvent>('message.read', (e) => e.seq === 3);
    expect(anaEvents.of<MessageReadEvent>('message.read').map((e) => e.seq)).toEqual([3]);

    // The visitor's list counts the agents' messages; its read goes to the agents as a receipt.
    const listed = await ok<{ conversations: Conversation[] }>(visitor.socket, 'conversation:list', {});
    expect(listed.conversations.find((c) => c.id === conversation.id)).toMatchObject({ unreadCount: 1, readSeq: 0 });
    const visitorRead = await ok<ConversationReadResult>(visitor.socket, 'conversation:read', {
      conversationId: conversation.id,
      seq: 4,
    });
    expect(visitorRead).toMatchObject({ seq: 4, unreadCount: 0 });
    const seen = await benEvents.wait<MessageReadEvent>('message.read', (e) => e.reader.id === visitor.userId);
    expect(seen).toMatchObject({ seq: 4, reader: { role: 'visitor' } });
    expect(seen.unreadCount).toBeUndefined();

    // More messages while Ana's console is away; she reconnects to the other node: exact.
    anaOnA.close();
    for (const text of ['q5', 'q6'])
      await ok(visitor.socket, 'message:send', { conversationId: conversation.id, clientMessageId: text, text });
    await ok(benOnA, 'message:send', { conversationId: conversation.id, clientMessageId: 'b1', text: 'ben here' });
    await agentSocket(nodeB, ana);
    expect(await unreadOf(ana, nodeB)).toMatchObject({ unreadCount: 2, readSeq: 3, lastSeq: 7 });
    expect(await unreadOf(ben, nodeA)).toMatchObject({ unreadCount: 5, readSeq: 0 });
  });

  it('lists by status, assignee and team, by last activity or oldest first, with lastMessageAt', async () => {
    const v1 = await visitorOn(nodeA);
    const v2 = await visitorOn(nodeA);
    const v3 = await visitorOn(nodeA);
    const c1 = await started(v1.socket, 'first');
    const c2 = await started(v2.socket, 'second');
    const c3 = await started(v3.socket, 'third');
    await ok(benOnA, 'conversation:join', { conversationId: c1.id });
    await ok(benOnA, 'conversation:pend', { conversationId: c1.id });
    // Its note is a message too (it moves the last activity): written before what follows.
    await waitFor('the pending note', async () => (await history(c1.id)).length === 2);
    const anaOnA = await agentSocket(nodeA, ana);
    await ok(anaOnA, 'conversation:join', { conversationId: c2.id });
    await database.db.collection('conversations').updateOne({ _id: c3.id as never }, { $set: { teamId: 'team-x' } });
    await ok(v2.socket, 'message:send', { conversationId: c2.id, clientMessageId: 'latest', text: 'latest' });
    const ours = new Set([c1.id, c2.id, c3.id]);
    const list = async (query: string, token = ana.token) =>
      (
        await api().get<Page<Conversation>>(`/v1/projects/${projectId}/conversations?limit=100&${query}`, { token })
      ).body.items.filter((c) => ours.has(c.id));

    expect((await list('assignee=me')).map((c) => c.id)).toEqual([c2.id]);
    expect((await list('assignee=me', ben.token)).map((c) => c.id)).toEqual([c1.id]);
    expect((await list(`assignee=${ben.id}`)).map((c) => c.id)).toEqual([c1.id]);
    expect((await list('assignee=none')).map((c) => c.id)).toEqual([c3.id]);
    expect((await list('status=pending')).map((c) => c.id)).toEqual([c1.id]);
    expect((await list('status=open&assignee=none')).map((c) => c.id)).toEqual([c3.id]);
    expect((await list('teamId=team-x')).map((c) => c.id)).toEqual([c3.id]);
    expect((await list('teamId=none')).map((c) => c.id).sort()).toEqual([c1.id, c2.id].sort());
    // Last activity: c2 got the latest message, c1 the latest change before it.
    expect((await list('')).map((c) => c.id)).toEqual([c2.id, c1.id, c3.id]);
    expect((await list('sort=oldest')).map((c) => c.id)).toEqual([c1.id, c2.id, c3.id]);
    const [latest] = await list('');
    expect(latest?.lastMessageAt).toBe(latest?.lastMessage?.createdAt);
    expect(latest).toMatchObject({ unreadCount: 2, readSeq: 0 });
  });

  it('keeps canned responses per project: create, search by prefix, change, render for a conversation, delete', async () => {
    const base = `/v1/projects/${projectId}/canned-responses`;
    const as = { token: ben.token };
    const greet = await api().post<CannedResponse>(base, {
      ...as,
      body: {
        shortCode: 'Greet',
        text: 'Hi {{contact.fullname}}, {{agent.name}} here. Plan: {{contact.attributes.plan}}',
      },
    });
    expect(greet.status).toBe(201);
    expect(greet.body.shortCode).toBe('greet');
    await api().post(base, { ...as, body: { shortCode: 'greet-back', text: 'Welcome back!' } });
    await api().post(base, { ...as, body: { shortCode: 'bye', text: 'Bye' } });

    expect((await api().post<ErrorResponse>(base, { ...as, body: { shortCode: 'GREET', text: 'again' } })).status).toBe(
      409,
    );
    const unknown = await api().post<ErrorResponse>(base, {
      ...as,
      body: { shortCode: 'x', text: 'Hi {{contact.nick}}' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details?.fields?.[0]?.message).toContain('{{contact.nick}}');

    const found = await api().get<Page<CannedResponse>>(`${base}?q=GRE`, as);
    expect(found.body.items.map((r) => r.shortCode)).toEqual(['greet', 'greet-back']);
    expect(found.body.total).toBe(2);

    const visitor = await visitorOn(nodeA);
    await ok(visitor.socket, 'lead:update', { fullname: 'Ada Cross', attributes: { plan: 'pro' } });
    const conversation = await started(visitor.socket);
    const rendered = await api().post<{ text: string }>(`${base}/${greet.body.id}/render`, {
      ...as,
      body: { conversationId: conversation.id },
    });
    expect(rendered.body.text).toBe(`Hi Ada Cross, ${nameOf(ben)} here. Plan: pro`);
    expect(
      (await api().post(`${base}/${greet.body.id}/render`, { ...as, body: { conversationId: 'no-such-conversation' } }))
        .status,
    ).toBe(404);

    const changed = await api().patch<CannedResponse>(`${base}/${greet.body.id}`, { ...as, body: { text: 'Hello!' } });
    expect(changed.body).toMatchObject({ shortCode: 'greet', text: 'Hello!' });
    expect((await api().patch(`${base}/${greet.body.id}`, { ...as, body: { shortCode: 'bye' } })).status).toBe(409);
    expect((await api().delete(`${base}/${greet.body.id}`, as)).status).toBe(204);
    expect((await api().get(`${base}/${greet.body.id}`, as)).status).toBe(404);
    expect((await api().delete(`${base}/${greet.body.id}`, as)).status).toBe(404);

    // Another project sees none of them.
    const other = (await createProject(nodeA.url)).project.id;
    const outsider = await createAgent(nodeA.url, other);
    expect(
      (await api().get<Page<CannedResponse>>(`/v1/projects/${other}/canned-responses`, { token: outsider.token })).body
        .total,
    ).toBe(0);
    expect((await api().get(`${base}`, { token: outsider.token })).status).toBe(403);
  });
});
