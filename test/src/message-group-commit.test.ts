import type { ConversationStartResult, Message, MessageSendResult } from '@parley/protocol';
import { startDatabase, type TestDatabase } from './support/database';
import { anonymousVisitor, createAgent, createProject } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { waitFor } from './support/wait';
import {
  command,
  connectAgent,
  connectVisitor,
  EventLog,
  ok,
  type AgentClientSocket,
  type VisitorClientSocket,
} from './support/sockets';

/**
 * Messages are written in groups (one database round trip for the sends of many conversations).
 * Whatever arrives at once, each conversation must still number its messages 1, 2, 3… in the
 * order they were sent, with no gap and no repeat, and a retried clientMessageId must still get
 * the message its first attempt stored, with nothing stored or announced twice.
 */
describe('messages written in groups', () => {
  let database: TestDatabase;
  let server: ParleyProcess;
  let projectId: string;
  let agent: AgentClientSocket;
  let agentEvents: EventLog;
  const sockets: VisitorClientSocket[] = [];

  beforeAll(async () => {
    database = await startDatabase();
    server = await startParley({ env: { MONGODB_URI: database.uri } });
    projectId = (await createProject(server.url)).project.id;
    const { token } = await createAgent(server.url, projectId);
    agent = await connectAgent(server.url, token);
    agentEvents = new EventLog(agent);
  });
  afterEach(() => sockets.splice(0).forEach((s) => s.close()));
  afterAll(async () => {
    agent.close();
    await server.stop();
    server.cleanup();
    await database.stop();
  });

  /**
   * The announcements heard since index `from`, up to a marker message sent now: one
   * conversation's pushes arrive in order, so once the marker is heard, any announcement still
   * due from the sends before it (a duplicate) has arrived too. No sleep needed to see "no more".
   */
  async function announcedBeforeMarker(socket: VisitorClientSocket, conversationId: string, from: number) {
    const marker = await ok<MessageSendResult>(socket, 'message:send', {
      conversationId,
      clientMessageId: 'marker',
      text: 'marker',
    });
    const announced = () => agentEvents.of<{ message: Message }>('message.created').map((e) => e.message);
    await waitFor('the marker announced', () => announced().some((m) => m.id === marker.message.id));
    const since = announced().slice(from);
    return since.slice(
      0,
      since.findIndex((m) => m.id === marker.message.id),
    );
  }

  async function visitorWithConversation() {
    const visitor = await anonymousVisitor(server.url, projectId);
    const socket = await connectVisitor(server.url, visitor.token);
    sockets.push(socket);
    const { conversation } = await ok<ConversationStartResult>(socket, 'conversation:start', {});
    return { socket, conversationId: conversation.id };
  }

  const messages = () => database.db.collection('messages');
  const conversations = () => database.db.collection('conversations');

  it('keeps every conversation gapless and in send order when many send at once', async () => {
    const VISITORS = 25;
    const EACH = 12;
    const visitors = await Promise.all(Array.from({ length: VISITORS }, visitorWithConversation));
    // Every message emitted at once, none awaited: the server sees them all in flight together.
    const acks = visitors.map(({ socket, conversationId }, v) =>
      Promise.all(
        Array.from({ length: EACH }, (_, i) =>
          ok<MessageSendResult>(socket, 'message:send', {
            conversationId,
            clientMessageId: `v${v}-m${i}`,
            text: `${i}`,
          }),
        ),
      ),
    );
    const results = await Promise.all(acks);
    for (const [v, sent] of results.entries()) {
      expect(sent.map((r) => r.message.seq)).toEqual(Array.from({ length: EACH }, (_, i) => i + 1));
      expect(sent.map((r) => r.message.text)).toEqual(Array.from({ length: EACH }, (_, i) => `${i}`));
      const { conversationId } = visitors[v] as { conversationId: string };
      const stored = await messages().find({ conversationId }).sort({ seq: 1 }).toArray();
      expect(stored.map((m) => [m['seq'], m['text']])).toEqual(Array.from({ length: EACH }, (_, i) => [i + 1, `${i}`]));
      expect(await conversations().findOne({ _id: conversationId as never })).toMatchObject({
        lastSeq: EACH,
        messageCount: EACH,
        lastMessage: { text: `${EACH - 1}` },
      });
    }
    // The agents heard each message once.
    await waitFor('every message announced', () => agentEvents.of('message.created').length >= VISITORS * EACH);
    const heard = agentEvents.of<{ message: Message }>('message.created').map((e) => e.message.id);
    expect(new Set(heard).size).toBe(heard.length);
  });

  it('answers a retried clientMessageId with the first message, even when both arrive together', async () => {
    const { socket, conversationId } = await visitorWithConversation();
    const before = agentEvents.of('message.created').length;
    const payload = { conversationId, clientMessageId: 'same-id', text: 'once' };
    // Twice in the same tick, then once more after the first ack: one message, one seq.
    const [a, b] = await Promise.all([
      ok<MessageSendResult>(socket, 'message:send', payload),
      ok<MessageSendResult>(socket, 'message:send', payload),
    ]);
    const c = await ok<MessageSendResult>(socket, 'message:send', payload);
    expect(new Set([a.message.id, b.message.id, c.message.id]).size).toBe(1);
    expect(a.message.seq).toBe(1);
    const next = await ok<MessageSendResult>(socket, 'message:send', {
      conversationId,
      clientMessageId: 'other-id',
      text: 'next',
    });
    expect(next.message.seq).toBe(2);
    expect(await messages().countDocuments({ conversationId })).toBe(2);
    expect(await conversations().findOne({ _id: conversationId as never })).toMatchObject({
      lastSeq: 2,
      messageCount: 2,
    });
    expect((await announcedBeforeMarker(socket, conversationId, before)).map((m) => m.seq)).toEqual([1, 2]);
  });

  it('keeps the order when a retry of a stored message and new ones arrive together', async () => {
    const { socket, conversationId } = await visitorWithConversation();
    const first = await ok<MessageSendResult>(socket, 'message:send', {
      conversationId,
      clientMessageId: 'r1',
      text: 'one',
    });
    // Its push may still be on its way (through Redis when REDIS_URL is set): counted before.
    await waitFor('the first message announced', () =>
      agentEvents.of<{ message: Message }>('message.created').some((e) => e.message.id === first.message.id),
    );
    const before = agentEvents.of('message.created').length;
    // The retry fails its insert (its clientMessageId is stored): the new ones after it in the same
    // batch must not keep the seqs they were given after it, or seq 2 would be a gap.
    const [retry, second, third] = await Promise.all([
      ok<MessageSendResult>(socket, 'message:send', { conversationId, clientMessageId: 'r1', text: 'one' }),
      ok<MessageSendResult>(socket, 'message:send', { conversationId, clientMessageId: 'r2', text: 'two' }),
      ok<MessageSendResult>(socket, 'message:send', { conversationId, clientMessageId: 'r3', text: 'three' }),
    ]);
    expect(retry.message).toEqual(first.message);
    expect([second.message.seq, third.message.seq]).toEqual([2, 3]);
    const stored = await messages().find({ conversationId }).sort({ seq: 1 }).toArray();
    expect(stored.map((m) => [m['seq'], m['text']])).toEqual([
      [1, 'one'],
      [2, 'two'],
      [3, 'three'],
    ]);
    expect(await conversations().findOne({ _id: conversationId as never })).toMatchObject({
      lastSeq: 3,
      messageCount: 3,
    });
    expect((await announcedBeforeMarker(socket, conversationId, before)).map((m) => m.seq)).toEqual([2, 3]);
  });

  it('writes right when the conversation changed behind this node (closed, written to, erased elsewhere)', async () => {
    const { socket, conversationId } = await visitorWithConversation();
    const conversation = { id: conversationId };
    await ok(socket, 'message:send', { conversationId, clientMessageId: 'c1', text: 'one' });
    const conversations = database.db.collection('conversations');
    {
      // Resolved by another node: this node's cached view still says open. The visitor writing
      // reopens it all the same.
      await conversations.updateOne(
        { _id: conversation.id as never },
        { $set: { status: 'resolved', resolvedAt: new Date() } },
      );
      const two = await ok<MessageSendResult>(socket, 'message:send', {
        conversationId: conversation.id,
        clientMessageId: 'c2',
        text: 'two',
      });
      expect(two.message.seq).toBe(2);
      const reopened = await agentEvents.wait<{ conversation: { id: string; status: string } }>(
        'conversation.updated',
        (e) => e.conversation.id === conversation.id,
      );
      expect(reopened.conversation.status).toBe('open');
      expect(await conversations.findOne({ _id: conversation.id as never })).toMatchObject({
        status: 'open',
        lastSeq: 2,
      });

      // Written to by another node (seq 3 recorded there): the next message here is 4.
      await database.db.collection('messages').insertOne({
        _id: 'elsewhere-3' as never,
        conversationId: conversation.id,
        projectId,
        seq: 3,
        clientMessageId: 'agent-elsewhere',
        sender: { id: 'agent-on-another-node', role: 'agent' },
        text: 'from another node',
        createdAt: new Date(),
      });
      await conversations.updateOne({ _id: conversation.id as never }, { $set: { lastSeq: 3, messageCount: 3 } });
      const four = await ok<MessageSendResult>(socket, 'message:send', {
        conversationId: conversation.id,
        clientMessageId: 'c4',
        text: 'four',
      });
      expect(four.message.seq).toBe(4);

      // Erased elsewhere: the send is refused and leaves no message behind.
      await conversations.deleteOne({ _id: conversation.id as never });
      await database.db.collection('messages').deleteMany({ conversationId: conversation.id });
      const gone = await command(socket, 'message:send', {
        conversationId: conversation.id,
        clientMessageId: 'c5',
        text: 'five',
      });
      expect(gone).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
      expect(await database.db.collection('messages').countDocuments({ conversationId: conversation.id })).toBe(0);
    }
  });

  it('settles each send of a group on its own: a bad one fails alone', async () => {
    const { socket, conversationId } = await visitorWithConversation();
    const other = await visitorWithConversation();
    const [good, foreign, next] = await Promise.all([
      command<MessageSendResult>(socket, 'message:send', { conversationId, clientMessageId: 'g1', text: 'mine' }),
      // Another visitor's conversation: not found, whatever else is in the group.
      command<MessageSendResult>(socket, 'message:send', {
        conversationId: other.conversationId,
        clientMessageId: 'x1',
        text: 'not mine',
      }),
      command<MessageSendResult>(socket, 'message:send', { conversationId, clientMessageId: 'g2', text: 'mine too' }),
    ]);
    expect(good).toMatchObject({ ok: true, data: { message: { seq: 1 } } });
    expect(foreign).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(next).toMatchObject({ ok: true, data: { message: { seq: 2 } } });
    expect(await messages().countDocuments({ conversationId: other.conversationId })).toBe(0);
  });

  it('interleaves visitor and agent sends in one conversation without a gap', async () => {
    const { socket, conversationId } = await visitorWithConversation();
    await ok(agent, 'conversation:join', { conversationId });
    const sends = Array.from({ length: 20 }, (_, i) =>
      ok<MessageSendResult>(i % 2 ? agent : socket, 'message:send', {
        conversationId,
        clientMessageId: `mixed-${i}`,
        text: `${i}`,
      }),
    );
    const seqs = (await Promise.all(sends)).map((r) => r.message.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await conversations().findOne({ _id: conversationId as never })).toMatchObject({
      lastSeq: 20,
      messageCount: 20,
    });
  });
});
