import type {
  Conversation,
  ConversationHistoryResult,
  ConversationListResult,
  ConversationStartResult,
  LeadUpdateInput,
  LeadUpdateResult,
  Message,
  MessageSendResult,
  SessionRenewResult,
  TypingEvent,
  VisitorLeadView,
  VisitorServerToClientEvents,
  VisitorUser,
  WidgetConfig,
} from '@parley/protocol';
import { untilAvailable } from './backoff';
import { ConversationBook } from './conversation-book';
import { Emitter } from './emitter';
import { ParleyError, toParleyError } from './errors';
import { Http } from './http';
import { randomId } from './ids';
import type { ClientMessage } from './message-store';
import { SocketSession, type ConnectionStatus } from './socket-session';
import { defaultStorage, type TokenStorage } from './storage';

/** Visitors told to catch up at once (a lost node) spread their catch-ups over this long. */
const RELOAD_SPREAD_MS = 2_000;
import { refreshTime, Timer } from './token';
import { TypingThrottle } from './typing-throttle';
import { VisitorAuth, type VerifiedTokenSource } from './visitor-auth';

export interface VisitorClientOptions {
  /** The Parley server, e.g. `https://chat.example.com`. */
  url: string;
  projectId: string;
  /** Where the token is kept; `localStorage` in a browser, memory in Node by default. */
  storage?: TokenStorage;
  /** Sign in as a verified user: a token your backend signed, or a function returning a fresh one. */
  verifiedToken?: VerifiedTokenSource;
  /** Socket.IO transports, WebSocket first by default. */
  transports?: ('websocket' | 'polling')[];
  /** How long a command waits for its acknowledgement before it is retried or fails. */
  ackTimeoutMs?: number;
}

export interface MessageEvent {
  conversationId: string;
  /** The message that appeared or changed (pending → sent, or → failed). */
  message: ClientMessage;
  /** The conversation's whole list, in order, for UIs that re-render it. */
  messages: ClientMessage[];
}

export interface VisitorClientEvents {
  message: (event: MessageEvent) => void;
  conversation: (conversation: Conversation) => void;
  typing: (event: TypingEvent) => void;
  status: (status: ConnectionStatus) => void;
  /** Something failed that no call of yours is waiting on (a sign-in that cannot be repaired). */
  error: (error: ParleyError) => void;
}

/** One conversation of the visitor, as the UI uses it. */
export class VisitorConversation {
  private readonly typing: TypingThrottle;

  constructor(
    readonly id: string,
    private readonly client: VisitorClient,
    private readonly book: ConversationBook,
    notifyTyping: (typing: boolean) => void,
  ) {
    this.typing = new TypingThrottle(notifyTyping);
  }

  /** The latest state the client knows of (status, assignee, last message). */
  get data(): Conversation | undefined {
    return this.client.conversationData(this.id);
  }

  /** Messages in `seq` order, then this client's pending and failed ones. */
  get messages(): ClientMessage[] {
    return this.book.messages(this.id);
  }

  /** Shows at once as pending; resolves with the stored message once acknowledged (retried until then). */
  send(text: string): Promise<Message> {
    return this.book.send(this.id, text);
  }

  /** Loads every message not yet known, and returns the whole ordered list. */
  async history(): Promise<ClientMessage[]> {
    await this.book.catchUp(this.id);
    return this.messages;
  }

  setTyping(typing: boolean): void {
    this.typing.set(typing);
  }
}

/**
 * The visitor side of Parley for a widget or a custom chat UI. Create it and use it: it signs in
 * (anonymously, or verified), keeps the token, connects, reconnects, retries and catches up by
 * itself. Every method waits for it to be ready.
 */
export class VisitorClient {
  /**
   * Resolves once signed in and connected for the first time; rejects with a ParleyError if the
   * sign-in is refused. While the server cannot be reached it keeps trying (status `connecting`).
   */
  readonly ready: Promise<void>;
  private readonly http: Http;
  private readonly auth: VisitorAuth;
  private readonly events: Emitter<VisitorClientEvents>;
  private readonly book: ConversationBook;
  private readonly session: SocketSession;
  private readonly conversationsById = new Map<string, Conversation>();
  private readonly handles = new Map<string, VisitorConversation>();
  private readonly refreshTimer = new Timer();
  private closed = false;

  constructor(private readonly options: VisitorClientOptions) {
    const url = options.url.replace(/\/+$/, '');
    this.http = new Http(url);
    this.events = new Emitter<VisitorClientEvents>();
    this.auth = new VisitorAuth(
      this.http,
      options.projectId,
      options.storage ?? defaultStorage(),
      options.verifiedToken,
    );
    this.session = new SocketSession({
      url,
      namespace: '/visitor',
      token: () => this.auth.current?.token ?? '',
      ...(options.transports ? { transports: options.transports } : { transports: ['websocket', 'polling'] }),
      ...(options.ackTimeoutMs ? { ackTimeoutMs: options.ackTimeoutMs } : {}),
      onStatus: (status) => this.events.emit('status', status),
      onConnect: ({ first }) => {
        if (!first) void this.afterReconnect();
      },
      onUnauthorized: async () => {
        await this.auth.refresh();
        this.scheduleRefresh();
      },
      onFatal: (error) => this.events.emit('error', error),
    });
    this.book = new ConversationBook({
      sender: () => ({ id: this.auth.current?.user.id ?? '', role: 'visitor' }),
      sendOnce: async (m) =>
        (
          await this.session.call<MessageSendResult>('message:send', {
            conversationId: m.conversationId,
            clientMessageId: m.clientMessageId,
            text: m.text,
          })
        ).message,
      fetchPage: (conversationId, afterSeq, limit) => this.fetchPage(conversationId, afterSeq, limit),
      whenOnline: () => this.session.whenOnline(),
      onMessage: (conversationId, message, messages) =>
        this.events.emit('message', { conversationId, message, messages }),
    });
    this.listen();
    this.ready = this.start();
    // A failed start is reported through `ready` and every method; never as an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  get user(): VisitorUser | undefined {
    return this.auth.current?.user;
  }

  get status(): ConnectionStatus {
    return this.session.currentStatus;
  }

  on<K extends keyof VisitorClientEvents>(event: K, listener: VisitorClientEvents[K]): () => void {
    return this.events.on(event, listener);
  }

  async getWidgetConfig(): Promise<WidgetConfig> {
    return this.http.json<WidgetConfig>('GET', `/v1/projects/${encodeURIComponent(this.options.projectId)}/widget`);
  }

  async startConversation(
    input: { text?: string; attributes?: Record<string, string | number | boolean | null> } = {},
  ): Promise<VisitorConversation> {
    await this.ready;
    // The same requestId on every retry: a start whose ack was lost is not made twice.
    const requestId = randomId();
    const payload = {
      requestId,
      ...(input.text !== undefined ? { text: input.text, clientMessageId: randomId() } : {}),
      ...(input.attributes ? { attributes: input.attributes } : {}),
    };
    const result = await this.retrying(() => this.session.call<ConversationStartResult>('conversation:start', payload));
    this.rememberConversation(result.conversation);
    if (result.message) this.book.ingest(result.message);
    return this.conversation(result.conversation.id);
  }

  /** A handle on one of the visitor's conversations (by id). */
  conversation(id: string): VisitorConversation {
    let handle = this.handles.get(id);
    if (!handle) {
      handle = new VisitorConversation(id, this, this.book, (typing) =>
        this.session.notify('typing', { conversationId: id, typing }),
      );
      this.handles.set(id, handle);
      this.book.store(id);
    }
    return handle;
  }

  /** The visitor's conversations, newest first. */
  async conversations(): Promise<VisitorConversation[]> {
    await this.ready;
    const { conversations } = await this.session.call<ConversationListResult>('conversation:list', {});
    for (const conversation of conversations) this.rememberConversation(conversation);
    return conversations.map((c) => this.conversation(c.id));
  }

  /** The pre-chat form (`lead:update`): stored on the visitor's lead. */
  async submitPreChatForm(fields: LeadUpdateInput): Promise<VisitorLeadView> {
    await this.ready;
    const { lead } = await this.retrying(() => this.session.call<LeadUpdateResult>('lead:update', fields));
    return lead;
  }

  /** Become a verified user (e.g. after your site's login). The socket reconnects as that user. */
  async identify(verifiedToken: VerifiedTokenSource): Promise<VisitorUser> {
    await this.ready.catch(() => undefined);
    const session = await this.auth.identify(verifiedToken);
    this.scheduleRefresh();
    this.session.socket.disconnect();
    this.session.connect();
    await this.session.whenOnline();
    return session.user;
  }

  conversationData(id: string): Conversation | undefined {
    return this.conversationsById.get(id);
  }

  /** Messages still waiting for an acknowledgement, across conversations. */
  get pendingCount(): number {
    return this.book.pendingCount();
  }

  close(): void {
    this.closed = true;
    this.refreshTimer.clear();
    this.book.close();
    this.session.close();
    this.events.clear();
  }

  private async start(): Promise<void> {
    // A page can load while the server is unreachable (a deploy, a flaky network): keep trying to
    // sign in instead of leaving a client that never connects. A refusal (unknown project, bad
    // verified token) still rejects `ready`.
    await untilAvailable(
      () => this.auth.ensure(),
      () => this.closed,
    );
    this.scheduleRefresh();
    this.session.connect();
    await this.session.whenOnline();
  }

  private listen(): void {
    const socket = this.session.socket;
    const on = <K extends keyof VisitorServerToClientEvents>(event: K, listener: VisitorServerToClientEvents[K]) =>
      socket.on(event as string, listener as (...args: unknown[]) => void);
    on('message.created', ({ message }) => this.book.ingest(message));
    on('conversation.created', ({ conversation }) => this.rememberConversation(conversation));
    on('conversation.updated', ({ conversation }) => this.rememberConversation(conversation));
    on('typing', (event) => this.events.emit('typing', event));
    // The server could not guarantee this socket every push (a node lost, Redis lost entries):
    // catch up as after a reconnect, at a random moment of the next two seconds, since every
    // visitor of the cluster may be told at once.
    on('sync.reload', () => {
      const timer = setTimeout(() => void this.afterReconnect(), Math.random() * RELOAD_SPREAD_MS);
      (timer as { unref?: () => void }).unref?.();
    });
  }

  private rememberConversation(conversation: Conversation): void {
    const known = this.conversationsById.get(conversation.id);
    if (known && Date.parse(known.updatedAt) > Date.parse(conversation.updatedAt)) return;
    this.conversationsById.set(conversation.id, conversation);
    this.book.store(conversation.id);
    this.events.emit('conversation', conversation);
  }

  /** After a reconnect: learn of conversations started elsewhere, and fetch every missed message. */
  private async afterReconnect(): Promise<void> {
    try {
      const { conversations } = await this.session.call<ConversationListResult>('conversation:list', {});
      for (const conversation of conversations) this.rememberConversation(conversation);
      await this.book.catchUpAll();
    } catch (error) {
      // The next reconnect tries again; a catch-up is never worth an error in the UI.
      if (!this.closed && toParleyError(error).code !== 'UNAVAILABLE') this.events.emit('error', toParleyError(error));
    }
  }

  private fetchPage(conversationId: string, afterSeq: number, limit: number) {
    return this.session.call<ConversationHistoryResult>('conversation:history', { conversationId, afterSeq, limit });
  }

  /** Refreshes the token ahead of expiry and hands it to the live socket: the UI never notices. */
  private scheduleRefresh(): void {
    const current = this.auth.current;
    if (!current || this.closed) return;
    this.refreshTimer.at(refreshTime(current.token, current.expiresAt), () => void this.refreshNow());
  }

  private async refreshNow(): Promise<void> {
    if (this.closed) return;
    try {
      const renewed = await this.auth.refresh();
      if (this.session.connected) {
        await this.session.call<SessionRenewResult>('session:renew', { token: renewed.token }).catch(() => {
          // A socket that can't renew will be closed at expiry and reconnect with the new token.
        });
      }
      this.scheduleRefresh();
    } catch {
      // Offline: try again shortly. The socket reconnects with whatever token is current.
      this.refreshTimer.at(Date.now() + 5000, () => void this.refreshNow());
    }
  }

  /** Commands with their own idempotency key are retried through drops until they go through. */
  private async retrying<T>(run: () => Promise<T>, attempts = 5): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        const e = toParleyError(error);
        if (!e.retryable || attempt + 1 >= attempts || this.closed) throw e;
        await new Promise((r) => setTimeout(r, e.details?.retryAfterMs ?? 300 * (attempt + 1)));
      }
    }
  }
}

export function createVisitorClient(options: VisitorClientOptions): VisitorClient {
  if (!options.url || !options.projectId) throw new ParleyError('BAD_REQUEST', 'url and projectId are required');
  return new VisitorClient(options);
}
