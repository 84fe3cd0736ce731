import type {
  Conversation,
  ConversationHistoryResult,
  ConversationListResult,
  ConversationStartResult,
  LeadUpdateResult,
  MessageSendResult,
} from '@parley/protocol';
import { startDatabase, type TestDatabase } from './support/database';
import { anonymousVisitor, createAgent, createProject } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { command, connectAgent, connectVisitor, EventLog, ok, type VisitorClientSocket } from './support/sockets';

describe('visitors chatting', () => {
  let database: TestDatabase;
  let server: ParleyProcess;
  let projectId: string;
  const sockets: VisitorClientSocket[] = [];

  beforeAll(async () => {
    database = await startDatabase();
    server = await startParley({ env: { MONGODB_URI: database.uri } });
    projectId = (await createProject(server.url)).project.id;
  });
  afterEach(() => sockets.splice(0).forEach((s) => s.close()));
  afterAll(async () => {
    await server.stop();
    server.cleanup();
    await database.stop();
  });

  /** A browser: its own anonymous sign-in, and `tabs` sockets on that token. */
  async function browser(tabs = 1) {
    const visitor = await anonymousVisitor(server.url, projectId);
    const opened = await Promise.all(Array.from({ length: tabs }, () => connectVisitor(server.url, visitor.token)));
    sockets.push(...opened);
    return { visitor, tabs: opened, socket: opened[0] as VisitorClientSocket };
  }

  const leads = () => database.db.collection('leads');
  const conversations = () => database.db.collection('conversations');
  const messages = () => database.db.collection('messages');

  it('aggregates every conversation of one UUID under one lead', async () => {
    const { visitor, socket } = await browser();
    const first = await ok<ConversationStartResult>(socket, 'conversation:start', { text: 'Hello?' });
    expect(first.conversation).toMatchObject({
      projectId,
      userId: visitor.user.id,
      status: 'open',
      lastSeq: 1,
      messageCount: 1,
    });
    expect(first.message).toMatchObject({ seq: 1, text: 'Hello?', sender: { id: visitor.user.id, role: 'visitor' } });
    const second = await ok<ConversationStartResult>(socket, 'conversation:start', {});
    expect(second.conversation.leadId).toBe(first.conversation.leadId);
    expect(second.message).toBeUndefined();

    const stored = await leads().find({ projectId, userId: visitor.user.id }).toArray();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ _id: first.conversation.leadId, kind: 'anonymous', conversationCount: 2 });
    expect(await conversations().countDocuments({ leadId: first.conversation.leadId })).toBe(2);

    const list = await ok<ConversationListResult>(socket, 'conversation:list', {});
    expect(list.conversations.map((c) => c.id).sort()).toEqual([first.conversation.id, second.conversation.id].sort());
  });

  it('records the pre-chat form on the lead in MongoDB, email normalized, attributes merged', async () => {
    const { visitor, socket } = await browser();
    const submitted = await ok<LeadUpdateResult>(socket, 'lead:update', {
      fullname: 'Ada Lovelace',
      email: '  Ada@Example.COM ',
      attributes: { plan: 'pro', seats: 3 },
    });
    expect(submitted.lead).toMatchObject({
      fullname: 'Ada Lovelace',
      email: 'ada@example.com',
      attributes: { plan: 'pro', seats: 3 },
    });
    await ok(socket, 'lead:update', { phone: '+44 20 7946 0000', attributes: { seats: 5, trial: false } });
    const lead = await leads().findOne({ projectId, userId: visitor.user.id });
    expect(lead).toMatchObject({
      kind: 'anonymous',
      fullname: 'Ada Lovelace',
      email: 'ada@example.com',
      phone: '+44 20 7946 0000',
      attributes: { plan: 'pro', seats: 5, trial: false },
    });
    // The lead made by the form is the one the first conversation lands in.
    const started = await ok<ConversationStartResult>(socket, 'conversation:start', { text: 'hi' });
    expect(started.conversation.leadId).toBe(lead?._id);
  });

  it('changes nothing and announces nothing when the same form is submitted twice', async () => {
    const agent = await createAgent(server.url, projectId);
    const agentSocket = await connectAgent(server.url, agent.token);
    const agentEvents = new EventLog(agentSocket);
    try {
      const { visitor, socket } = await browser();
      const form = { fullname: 'Alan Turing', email: 'alan@example.com', attributes: { team: 'hut8' } };
      await ok(socket, 'lead:update', form);
      await agentEvents.wait('lead.created', (e: { lead: { userId: string } }) => e.lead.userId === visitor.user.id);
      const before = await leads().findOne({ projectId, userId: visitor.user.id });
      // The same values again, the email typed differently: nothing to change.
      await ok(socket, 'lead:update', { ...form, email: ' Alan@Example.COM ' });
      const after = await leads().findOne({ projectId, userId: visitor.user.id });
      expect(after?.['updatedAt']).toEqual(before?.['updatedAt']);
      expect(after?.['rev']).toBe(before?.['rev']);
      // A real change after it is the marker: the project's pushes arrive in order, so once the
      // marker's lead.updated is here, any for the two submits would have come before it.
      await ok(socket, 'lead:update', { phone: '+44 20 7946 0001' });
      await agentEvents.wait('lead.updated', (e: { lead: { phone?: string } }) => e.lead.phone === '+44 20 7946 0001');
      const updates = agentEvents.of<{ lead: { userId: string }; changes: string[] }>('lead.updated');
      expect(updates.filter((e) => e.lead.userId === visitor.user.id).map((e) => e.changes)).toEqual([['phone']]);
    } finally {
      agentSocket.close();
    }
  });

  it('makes a second lead for the same email in another browser', async () => {
    const email = `twin-${Date.now()}@example.com`;
    const a = await browser();
    const b = await browser();
    await ok(a.socket, 'lead:update', { email });
    await ok(b.socket, 'lead:update', { email: email.toUpperCase() });
    const found = await leads().find({ projectId, email }).toArray();
    expect(found).toHaveLength(2);
    expect(new Set(found.map((l) => l['userId']))).toEqual(new Set([a.visitor.user.id, b.visitor.user.id]));
  });

  it('makes one conversation of 10 racing starts with one requestId', async () => {
    const { visitor, socket } = await browser();
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        ok<ConversationStartResult>(socket, 'conversation:start', { requestId: 'req-1', text: 'first!' }),
      ),
    );
    const ids = new Set(results.map((r) => r.conversation.id));
    expect(ids.size).toBe(1);
    expect(new Set(results.map((r) => r.message?.id)).size).toBe(1);
    expect(await conversations().countDocuments({ projectId, userId: visitor.user.id })).toBe(1);
    expect(await messages().countDocuments({ conversationId: [...ids][0] })).toBe(1);
  });

  it('stores and broadcasts one message for 3 racing sends with one clientMessageId', async () => {
    const { tabs } = await browser(2);
    const [sender, other] = tabs as [VisitorClientSocket, VisitorClientSocket];
    const { conversation } = await ok<ConversationStartResult>(sender, 'conversation:start', {});
    const log = new EventLog(other);
    const results = await Promise.all(
      Array.from({ length: 3 }, () =>
        ok<MessageSendResult>(sender, 'message:send', {
          conversationId: conversation.id,
          clientMessageId: 'm-1',
          text: 'once',
        }),
      ),
    );
    expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
    expect(results[0]?.message.seq).toBe(1);
    await log.wait('message.created');
    // Another message after them is the marker: pushes arrive in order, so once it is here a
    // second push of the first would have been too.
    await ok(sender, 'message:send', { conversationId: conversation.id, clientMessageId: 'm-2', text: 'marker' });
    await log.wait(
      'message.created',
      (e: { message: { clientMessageId: string } }) => e.message.clientMessageId === 'm-2',
    );
    expect(log.of<{ message: { seq: number } }>('message.created').map((e) => e.message.seq)).toEqual([1, 2]);
    expect(await messages().countDocuments({ conversationId: conversation.id, clientMessageId: 'm-1' })).toBe(1);
  });

  it('makes one lead when 4 tabs of a new visitor race first conversations and form submits', async () => {
    const { visitor, tabs } = await browser(4);
    await Promise.all(
      tabs.flatMap((tab, i) => [
        ok(tab, 'conversation:start', { text: `tab ${i}` }),
        ok(tab, 'lead:update', { fullname: 'Racy Visitor', attributes: { [`tab${i}`]: true } }),
      ]),
    );
    const found = await leads().find({ projectId, userId: visitor.user.id }).toArray();
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      fullname: 'Racy Visitor',
      conversationCount: 4,
      attributes: { tab0: true, tab1: true, tab2: true, tab3: true },
    });
    const convs = await conversations().find({ userId: visitor.user.id }).toArray();
    expect(convs).toHaveLength(4);
    expect(new Set(convs.map((c) => c['leadId']))).toEqual(new Set([found[0]?._id]));
  });

  it('stores 500 messages sent without waiting for acks in send order, seq 1..500', async () => {
    const { socket } = await browser();
    const { conversation } = await ok<ConversationStartResult>(socket, 'conversation:start', {});
    const acks = Array.from({ length: 500 }, (_, i) =>
      command<MessageSendResult>(
        socket,
        'message:send',
        { conversationId: conversation.id, clientMessageId: `m${i}`, text: `message ${i}` },
        30_000,
      ),
    );
    const results = await Promise.all(acks);
    expect(results.every((r) => r.ok)).toBe(true);
    const history: ConversationHistoryResult['messages'] = [];
    let afterSeq = 0;
    for (;;) {
      const page = await ok<ConversationHistoryResult>(socket, 'conversation:history', {
        conversationId: conversation.id,
        afterSeq,
        limit: 200,
      });
      history.push(...page.messages);
      if (!page.hasMore) break;
      afterSeq = page.messages[page.messages.length - 1]?.seq ?? afterSeq;
    }
    expect(history.map((m) => m.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(history.map((m) => m.text)).toEqual(Array.from({ length: 500 }, (_, i) => `message ${i}`));
    const stored = await conversations().findOne({ _id: conversation.id as never });
    expect(stored).toMatchObject({ lastSeq: 500, messageCount: 500 });
  });

  it('keeps every tab of a visitor in sync', async () => {
    const { tabs } = await browser(3);
    const [first, ...others] = tabs as [VisitorClientSocket, ...VisitorClientSocket[]];
    const logs = others.map((s) => new EventLog(s));
    const { conversation } = await ok<ConversationStartResult>(first, 'conversation:start', { text: 'from tab 1' });
    for (const log of logs) {
      expect((await log.wait<{ conversation: Conversation }>('conversation.created')).conversation.id).toBe(
        conversation.id,
      );
      expect(await log.wait('message.created')).toMatchObject({ message: { text: 'from tab 1', seq: 1 } });
    }
    await ok(first, 'typing', { conversationId: conversation.id, typing: true });
    for (const log of logs) await log.wait('typing', (e: { typing: boolean }) => e.typing);
  });

  it("gives NOT_FOUND for another visitor's conversation, and never its data", async () => {
    const owner = await browser();
    const stranger = await browser();
    const { conversation } = await ok<ConversationStartResult>(owner.socket, 'conversation:start', { text: 'private' });
    const log = new EventLog(stranger.socket);
    for (const [name, payload] of [
      ['conversation:history', { conversationId: conversation.id }],
      ['message:send', { conversationId: conversation.id, clientMessageId: 'x', text: 'intrusion' }],
      ['typing', { conversationId: conversation.id, typing: true }],
    ] as const) {
      const res = await command(stranger.socket, name, payload);
      expect(res).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: expect.any(String) } });
    }
    const list = await ok<ConversationListResult>(stranger.socket, 'conversation:list', {});
    expect(list.conversations).toEqual([]);
    await ok(owner.socket, 'message:send', {
      conversationId: conversation.id,
      clientMessageId: 'y',
      text: 'still private',
    });
    // The stranger's own message, sent after it, is the marker: this node pushes in order.
    const own = await ok<ConversationStartResult>(stranger.socket, 'conversation:start', { text: 'mine' });
    await log.wait(
      'message.created',
      (e: { message: { conversationId: string } }) => e.message.conversationId === own.conversation.id,
    );
    expect(
      log.of<{ message: { conversationId: string } }>('message.created').map((e) => e.message.conversationId),
    ).toEqual([own.conversation.id]);
    expect(await messages().countDocuments({ conversationId: conversation.id })).toBe(2);
  });

  it('gives NOT_FOUND for a conversation of another project', async () => {
    const { socket } = await browser();
    const { conversation } = await ok<ConversationStartResult>(socket, 'conversation:start', { text: 'p1' });
    const elsewhere = (await createProject(server.url)).project.id;
    const outsider = await anonymousVisitor(server.url, elsewhere);
    const outsiderSocket = await connectVisitor(server.url, outsider.token);
    sockets.push(outsiderSocket);
    const res = await command(outsiderSocket, 'conversation:history', { conversationId: conversation.id });
    expect(res).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });
});

describe('message rate limit', () => {
  it('refuses messages over the per-visitor limit with RATE_LIMITED and retryAfterMs', async () => {
    const server = await startParley({ env: { RATE_LIMIT_MESSAGES_PER_MINUTE: '5' } });
    try {
      const { project } = await createProject(server.url);
      const visitor = await anonymousVisitor(server.url, project.id);
      const socket = await connectVisitor(server.url, visitor.token);
      const { conversation } = await ok<ConversationStartResult>(socket, 'conversation:start', {});
      const results = [];
      for (let i = 0; i < 7; i++) {
        results.push(
          await command(socket, 'message:send', {
            conversationId: conversation.id,
            clientMessageId: `m${i}`,
            text: `${i}`,
          }),
        );
      }
      expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true, false, false]);
      const refused = results[6];
      expect(refused).toMatchObject({
        ok: false,
        error: { code: 'RATE_LIMITED', details: { retryAfterMs: expect.any(Number) } },
      });
      // Other tabs of the same visitor share the allowance.
      const tab = await connectVisitor(server.url, visitor.token);
      const fromTab = await command(tab, 'message:send', {
        conversationId: conversation.id,
        clientMessageId: 'tab',
        text: 'x',
      });
      expect(fromTab).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
      // Refused messages were not stored: history holds exactly the five accepted ones.
      const history = await ok<ConversationHistoryResult>(socket, 'conversation:history', {
        conversationId: conversation.id,
      });
      expect(history.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      socket.close();
      tab.close();
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
});
