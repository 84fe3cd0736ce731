import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LIMITS, type AckResponse, type Message, type ParleyNamespace } from '@parley/protocol';
import { Server } from 'socket.io';
import type { ConversationBook } from '../src/conversation-book';
import type { ParleyError } from '../src/errors';
import { createSessionBook } from '../src/session-book';
import { SocketSession } from '../src/socket-session';
import { Timers } from '../src/timers';
import type { MessageEvent } from '../src/visitor-client';

/**
 * The one factory behind both clients' conversation books, against a real Socket.IO server that
 * answers the two commands a book sends, on either namespace: what goes out, what comes back into
 * the book, and what reaches the client's events.
 */
describe('createSessionBook', () => {
  let http: HttpServer;
  let io: Server;
  let url: string;
  /** Commands the server received, by namespace, in order. */
  let received: { namespace: string; event: string; payload: Record<string, unknown> }[] = [];
  /** What `conversation:history` answers next (then: nothing more). */
  let history: AckResponse<{ messages: Message[]; hasMore: boolean }>[] = [];
  const cleanup: (() => void)[] = [];

  const stored = (conversationId: string, seq: number, text = `m${seq}`, clientMessageId = `c${seq}`): Message => ({
    id: `${conversationId}-${seq}`,
    conversationId,
    projectId: 'p1',
    seq,
    clientMessageId,
    sender: { id: 'u1', role: 'visitor' },
    text,
    createdAt: new Date(0).toISOString(),
  });

  beforeAll(async () => {
    http = createServer();
    io = new Server(http);
    for (const namespace of ['/visitor', '/agent']) {
      io.of(namespace).on('connection', (socket) => {
        socket.on('message:send', (payload: Record<string, unknown>, ack: (r: unknown) => void) => {
          received.push({ namespace, event: 'message:send', payload });
          const { conversationId, clientMessageId, text } = payload as Record<string, string>;
          ack({ ok: true, data: { message: stored(String(conversationId), 1, text, clientMessageId) } });
        });
        socket.on('conversation:history', (payload: Record<string, unknown>, ack: (r: unknown) => void) => {
          received.push({ namespace, event: 'conversation:history', payload });
          ack(history.shift() ?? { ok: true, data: { messages: [], hasMore: false } });
        });
      });
    }
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    cleanup.splice(0).forEach((close) => close());
    received = [];
    history = [];
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => io.close(() => resolve()));
  });

  function open(namespace: ParleyNamespace, holdOnLiveMessage: boolean) {
    const timers = new Timers();
    const session = new SocketSession({
      url,
      namespace,
      token: () => 't',
      transports: ['websocket'],
      timers,
      onStatus: () => undefined,
      onConnect: () => undefined,
      onUnauthorized: () => Promise.resolve(),
      onFatal: () => undefined,
    });
    const events: MessageEvent[] = [];
    const errors: ParleyError[] = [];
    let current = true;
    const book: ConversationBook = createSessionBook({
      session,
      timers,
      sender: () => ({ id: 'me', role: namespace === '/agent' ? 'agent' : 'visitor' }),
      holdOnLiveMessage,
      isCurrent: (b) => b === book && current,
      onMessage: (event) => events.push(event),
      onError: (error) => errors.push(error),
    });
    cleanup.push(() => {
      book.close();
      session.close();
      timers.close();
    });
    session.connect();
    return { book, events, errors, retire: () => (current = false) };
  }

  /** Waits (on the book's own events, never a fixed time) until `check` holds. */
  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(check()).toBe(true);
  }

  it.each(['/visitor', '/agent'] as const)(
    'on %s, sends as message:send and shows the message pending, then sent',
    async (namespace) => {
      const { book, events } = open(namespace, true);
      const sent = await book.send('c1', 'hello');
      expect(sent.text).toBe('hello');
      expect(received).toEqual([
        {
          namespace,
          event: 'message:send',
          payload: { conversationId: 'c1', clientMessageId: sent.clientMessageId, text: 'hello' },
        },
      ]);
      expect(events.map((e) => [e.conversationId, e.message.status, e.message.sender.id])).toEqual([
        ['c1', 'pending', 'me'],
        ['c1', 'sent', 'u1'],
      ]);
    },
  );

  it.each(['/visitor', '/agent'] as const)(
    'on %s, fetches a gap with conversation:history and announces what it brought',
    async (namespace) => {
      const { book, events } = open(namespace, true);
      history = [{ ok: true, data: { messages: [stored('c2', 1), stored('c2', 2)], hasMore: false } }];
      book.ingest(stored('c2', 3), { live: true });
      await until(() => book.messages('c2').length === 3);
      expect(received).toEqual([
        {
          namespace,
          event: 'conversation:history',
          payload: { conversationId: 'c2', afterSeq: 0, limit: LIMITS.historyLimitMax },
        },
      ]);
      expect(events.map((e) => ('seq' in e.message ? e.message.seq : undefined))).toEqual([3, 1, 2]);
    },
  );

  it('holds a live message of an unheld conversation only when told to (visitor, not agent)', () => {
    const visitor = open('/visitor', true);
    const agent = open('/agent', false);
    visitor.book.ingest(stored('c3', 1), { live: true });
    agent.book.ingest(stored('c3', 1), { live: true });
    expect(visitor.book.isHeld('c3')).toBe(true);
    expect(agent.book.isHeld('c3')).toBe(false);
    expect(agent.events).toEqual([]);
  });

  it('reports a catch-up that failed for good, and nothing once the book is no longer current', async () => {
    const { book, events, errors, retire } = open('/visitor', true);
    history = [{ ok: false, error: { code: 'NOT_FOUND', message: 'Conversation not found' } }];
    book.ingest(stored('c4', 2), { live: true });
    await until(() => errors.length === 1);
    expect(errors[0]?.code).toBe('NOT_FOUND');

    retire();
    const before = events.length;
    history = [
      { ok: false, error: { code: 'NOT_FOUND', message: 'Conversation not found' } },
      { ok: true, data: { messages: [stored('c6', 1)], hasMore: false } },
    ];
    book.ingest(stored('c5', 2), { live: true });
    // The marker: a later catch-up on the same socket has brought its page into the book, so the
    // first one's refusal, answered before it, has been handled by now.
    book.ingest(stored('c6', 2), { live: true });
    await until(() => book.messages('c6').length === 2);
    expect(errors).toHaveLength(1);
    expect(events.length).toBe(before);
  });
});
