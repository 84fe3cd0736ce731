import {
  VISITOR_NAMESPACE,
  type Conversation,
  type ActivityPropValue,
  type ActivityRecordResult,
  type ConversationReadResult,
  type PageViewInput,
  type LeadUpdateInput,
  type Message,
  type MessageReadEvent,
  type TypingEvent,
  type VisitorLeadView,
  type VisitorUser,
  type WidgetAvailability,
  type WidgetConfig,
} from '@parley/protocol';
import { retryDelay, untilAvailable } from './backoff';
import type { ConversationBook } from './conversation-book';
import { Emitter } from './emitter';
import { closedError, ParleyError, toParleyError } from './errors';
import { Http } from './http';
import { randomId } from './ids';
import type { ClientMessage } from './message-store';
import { createSessionBook } from './session-book';
import { SocketSession, type ConnectionStatus } from './socket-session';
import { defaultStorage, type TokenStorage } from './storage';
import type { Clock } from './clock';
import { Timers } from './timers';
import { refreshDelay } from './token';
import { TypingThrottle } from './typing-throttle';
import { UnreadTracker } from './unread-tracker';
import { VisitorAuth, type VerifiedTokenSource } from './visitor-auth';
import { baseUrlOf } from './url';
import { currentPage, currentUrl, watchNavigation } from './page-tracker';

/** Visitors told to catch up at once (a lost node) spread their catch-ups over this long. */
const RELOAD_SPREAD_MS = 2_000;

export interface VisitorClientOptions {
  /** The Parley server, e.g. `https://chat.example.com` (a path prefix such as `/chat` is kept). */
  url: string;
  projectId: string;
  /** Where the token is kept; `localStorage` in a browser, memory in Node by default. */
  storage?: TokenStorage;
  /** Sign in as a verified user: a token your backend signed, or a function returning a fresh one. */
  verifiedToken?: VerifiedTokenSource;
  /** Socket.IO transports, WebSocket first by default. */
  transports?: ('websocket' | 'polling')[];
  /** The server's Socket.IO path, if not `/socket.io` under the URL's path. */
  path?: string;
  /** How long a command waits for its acknowledgement before it is retried or fails. */
  ackTimeoutMs?: number;
  /** How long a REST request may take before it fails with `UNAVAILABLE`. */
  requestTimeoutMs?: number;
  /** Not connected for this long (while trying): the status becomes `offline`. */
  offlineAfterMs?: number;
  /** How many conversations' message lists are kept in memory. */
  maxConversations?: number;
  /** Where the time and the timers come from; the system clock by default (tests drive their own). */
  clock?: Clock;
  /**
   * In a browser, report the page (`pageView()`) on every connection and whenever a single-page
   * app moves to another URL (history navigation). On by default; `false` leaves page views to you.
   */
  trackPageViews?: boolean;
}

export interface MessageEvent {
  conversationId: string;
  /** The message that appeared or changed (pending → sent, or → failed, or discarded). */
  message: ClientMessage;
  /** The conversation's whole list, in order, for UIs that re-render it. */
  messages: ClientMessage[];
}

/** A conversation's unread count for this visitor changed (agents' messages after its read position). */
export interface UnreadEvent {
  conversationId: string;
  unreadCount: number;
  /** Across the visitor's conversations. */
  total: number;
}

export interface VisitorClientEvents {
  message: (event: MessageEvent) => void;
  conversation: (conversation: Conversation) => void;
  typing: (event: TypingEvent) => void;
  /** An agent read up to `seq` (a read receipt). */
  read: (event: MessageReadEvent) => void;
  unread: (event: UnreadEvent) => void;
  /**
   * A message to a resolved conversation started a new one (the project's setting): show
   * `conversation` from now on. Messages sent to the old one go there too.
   */
  continued: (event: { from: string; conversation: Conversation }) => void;
  status: (status: ConnectionStatus) => void;
  /** Something failed that no call of yours may be waiting on (above all: refused for good). */
  error: (error: ParleyError) => void;
}

/** Pending work of a visitor who signed out (or became someone else) fails with this. */
function signedOutError(): ParleyError {
  return new ParleyError('UNAUTHORIZED', 'The visitor signed out or changed before this was done', undefined, {
    retryable: false,
  });
}

/** Commands the UI awaits and may show an error for: retried a few times through drops, then they reject. */
const COMMAND_ATTEMPTS = 5;

/**
 * One conversation of the visitor, as the UI uses it. A handle belongs to the visitor who got it:
 * after `identify()` as someone else or `logout()` it no longer sends or loads.
 */
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

  /** Sends a failed message again (same clientMessageId); resolves once it is stored. */
  retry(message: { clientMessageId: string }): Promise<Message> {
    return this.book.retry(this.id, message.clientMessageId);
  }

  /** Removes a failed message from the list; false if there is no such failed message. */
  discard(message: { clientMessageId: string }): boolean {
    return this.book.discard(this.id, message.clientMessageId);
  }

  /** Loads every message not yet known, and returns the whole ordered list. */
  async history(): Promise<ClientMessage[]> {
    await this.book.catchUp(this.id);
    return this.messages;
  }

  setTyping(typing: boolean): void {
    this.typing.set(typing);
  }

  /** The agents' messages after the visitor's read position; `undefined` until the server said. */
  get unreadCount(): number | undefined {
    return this.client.unreadOf(this.id);
  }

  /**
   * Marks as read every stored message this client holds of the conversation (call it when the
   * conversation is on screen). Only forward; calls while one is on its way are folded into one.
   */
  markRead(): Promise<void> {
    return this.client.markRead(this.id);
  }

  /**
   * While visible, everything that arrives is marked read as it arrives (and what is there now, at
   * once). A widget sets it when its panel opens and clears it when it closes or the tab hides.
   */
  setVisible(visible: boolean): void {
    this.client.setVisible(this.id, visible);
  }
}

/**
 * The visitor side of Parley for a widget or a custom chat UI. Create it and use it: it signs in
 * (anonymously, or verified), keeps the token, connects, reconnects, retries and catches up by
 * itself. Every method waits for it to be ready.
 */
export class VisitorClient {
  private readonly timers: Timers;
  private readonly http: Http;
  private readonly auth: VisitorAuth;
  private readonly events = new Emitter<VisitorClientEvents>();
  private readonly session: SocketSession<typeof VISITOR_NAMESPACE>;
  /** The signed-in visitor's conversations; replaced when the visitor changes. */
  private book: ConversationBook;
  private readonly conversationsById = new Map<string, Conversation>();
  private readonly handles = new Map<string, VisitorConversation>();
  private readonly unread: UnreadTracker;
  /** Conversations on screen: what arrives is marked read. */
  private readonly visible = new Set<string>();
  /** Per conversation: the read on its way, and the furthest seq asked for meanwhile. */
  private readonly reading = new Map<string, { done: Promise<void>; next: number }>();
  /** Conversations announced as continuing a resolved one (`continued`). */
  private readonly continuations = new Set<string>();
  private cancelRefresh: () => void = () => undefined;
  private stopWatchingPages: () => void = () => undefined;
  private closed = false;
  private readyPromise: Promise<void>;
  /** Bumped by every new sign-in (start, logout): an older one that settles late changes nothing. */
  private startAttempt = 0;

  constructor(private readonly options: VisitorClientOptions) {
    const url = baseUrlOf(options.url);
    this.timers = new Timers(options.clock);
    this.http = new Http(url, this.timers, options.requestTimeoutMs);
    this.auth = new VisitorAuth(
      this.http,
      this.timers,
      options.projectId,
      options.storage ?? defaultStorage(),
      options.verifiedToken,
    );
    this.session = new SocketSession({
      url,
      namespace: VISITOR_NAMESPACE,
      token: () => this.auth.current?.token ?? '',
      transports: options.transports ?? ['websocket', 'polling'],
      timers: this.timers,
      ...(options.path !== undefined ? { path: options.path } : {}),
      ...(options.ackTimeoutMs ? { ackTimeoutMs: options.ackTimeoutMs } : {}),
      ...(options.offlineAfterMs ? { offlineAfterMs: options.offlineAfterMs } : {}),
      onStatus: (status) => this.events.emit('status', status),
      onConnect: ({ first }) => {
        if (!first) this.afterReconnect();
        // Every connection: the live visitors list shows the page again after a reconnect.
        if (this.options.trackPageViews !== false) this.reportPage();
      },
      onUnauthorized: async () => {
        const before = this.auth.current?.user;
        const renewed = await this.auth.refresh();
        // The old token was refused for good and a new visitor was signed in: its state is not ours.
        if (before && renewed.user.id !== before.id) this.resetUserState(signedOutError());
        this.scheduleRefresh();
      },
      onFatal: (error) => {
        this.cancelRefresh();
        this.events.emit('error', error);
      },
    });
    this.unread = new UnreadTracker('agent', (conversationId, unreadCount) =>
      this.events.emit('unread', { conversationId, unreadCount, total: this.unread.total() }),
    );
    this.book = this.newBook();
    this.listen();
    this.readyPromise = this.begin();
    if (options.trackPageViews !== false) this.stopWatchingPages = watchNavigation(() => this.reportPage());
    // Listeners added right after creation hear the first status.
    queueMicrotask(() => this.session.announce());
  }

  /**
   * Resolves once signed in and connected (for the first time, or after `identify()`/`logout()`);
   * rejects with a ParleyError if the sign-in or the connection is refused for good. While the
   * server cannot be reached it keeps trying.
   */
  get ready(): Promise<void> {
    return this.readyPromise;
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

  /**
   * Whether someone can answer now (within business hours, an agent online; never who), and if
   * not, the project's away message and whether to ask for an email. Public: no sign-in needed.
   */
  async availability(): Promise<WidgetAvailability> {
    return (await this.getWidgetConfig()).availability;
  }

  /**
   * Starts a conversation (one `requestId` through every retry, so never twice), waiting through
   * outages until it exists. With `text`, that first message is sent like any other: it is in the
   * returned conversation's list at once as pending, and retried until stored or failed.
   */
  async startConversation(
    input: { text?: string; attributes?: Record<string, string | number | boolean | null> } = {},
  ): Promise<VisitorConversation> {
    await this.readyPromise;
    const book = this.book;
    const payload = { requestId: randomId(), ...(input.attributes ? { attributes: input.attributes } : {}) };
    const result = await untilAvailable(() => this.session.call('conversation:start', payload), this.timers);
    if (book !== this.book) throw signedOutError();
    this.rememberConversation(result.conversation);
    this.unread.snapshot(result.conversation.id, { unreadCount: 0, readSeq: 0, lastSeq: result.conversation.lastSeq });
    const conversation = this.conversation(result.conversation.id);
    if (input.text !== undefined) void conversation.send(input.text);
    return conversation;
  }

  /** A handle on one of the visitor's conversations (by id). */
  conversation(id: string): VisitorConversation {
    let handle = this.handles.get(id);
    if (!handle) {
      handle = new VisitorConversation(id, this, this.book, (typing) =>
        this.session.notify('typing', { conversationId: id, typing }),
      );
      this.handles.set(id, handle);
    }
    this.book.hold(id);
    return handle;
  }

  /** The visitor's conversations, newest first. */
  async conversations(): Promise<VisitorConversation[]> {
    await this.readyPromise;
    const book = this.book;
    const { conversations } = await this.session.call('conversation:list', {});
    if (book !== this.book) throw signedOutError();
    for (const conversation of conversations) this.rememberListed(conversation);
    return conversations.map((c) => this.conversation(c.id));
  }

  /** Agents' messages after the visitor's read position, across its conversations known here. */
  get unreadTotal(): number {
    return this.unread.total();
  }

  unreadOf(conversationId: string): number | undefined {
    return this.unread.unreadCount(conversationId);
  }

  /** See `VisitorConversation.markRead`. */
  async markRead(conversationId: string): Promise<void> {
    const seq = this.book.lastStoredSeq(conversationId);
    if (seq <= (this.unread.readSeq(conversationId) ?? 0)) return;
    const inFlight = this.reading.get(conversationId);
    if (inFlight) {
      inFlight.next = Math.max(inFlight.next, seq);
      return inFlight.done;
    }
    const state = { next: seq, done: Promise.resolve() };
    state.done = (async () => {
      try {
        const book = this.book;
        for (let sent = 0; state.next > sent;) {
          sent = state.next;
          const result = await this.retrying(() =>
            this.session.call('conversation:read', { conversationId, seq: sent }),
          );
          if (book !== this.book) return;
          this.applyRead(result);
        }
      } finally {
        this.reading.delete(conversationId);
      }
    })();
    this.reading.set(conversationId, state);
    return state.done;
  }

  /** See `VisitorConversation.setVisible`. */
  setVisible(conversationId: string, visible: boolean): void {
    if (!visible) {
      this.visible.delete(conversationId);
      return;
    }
    this.visible.add(conversationId);
    this.markReadQuietly(conversationId);
  }

  /**
   * Reports a page view (`page:view`): by default the page this document is on (URL, title,
   * referrer). Stored on the visitor's contact and shown to agents live. The browser build calls it
   * itself on each connection and history navigation (see `trackPageViews`).
   */
  async pageView(view?: PageViewInput): Promise<ActivityRecordResult> {
    const page = view ?? currentPage();
    if (!page) throw new ParleyError('BAD_REQUEST', 'pageView() needs a url outside a browser');
    await this.readyPromise;
    return this.retrying(() => this.session.call('page:view', page));
  }

  /**
   * Reports a custom event (`event:track`), e.g. `track('signup', { plan: 'pro' })`: a name (letters,
   * digits, spaces, `_ . : -`, up to 100) and up to 20 properties (text up to 500, numbers, booleans).
   * In a browser the page it happened on goes with it.
   */
  async track(name: string, props?: Record<string, ActivityPropValue>): Promise<ActivityRecordResult> {
    await this.readyPromise;
    const url = currentUrl();
    return this.retrying(() =>
      this.session.call('event:track', { name, ...(props ? { props } : {}), ...(url ? { url } : {}) }),
    );
  }

  /** The automatic page view: nothing to report outside a browser; a failure is only an `error` event. */
  private reportPage(): void {
    const page = currentPage();
    if (!page || this.closed) return;
    this.session.call('page:view', page).catch((error: unknown) => {
      const parleyError = toParleyError(error);
      // Refused for good elsewhere (the session reports that itself); a rate limit or a drop is not worth a word.
      if (parleyError.code === 'BAD_REQUEST') this.events.emit('error', parleyError);
    });
  }

  /** The pre-chat form (`lead:update`): stored on the visitor's lead. */
  async submitPreChatForm(fields: LeadUpdateInput): Promise<VisitorLeadView> {
    await this.readyPromise;
    const { lead } = await this.retrying(() => this.session.call('lead:update', fields));
    return lead;
  }

  /**
   * Become a verified user (e.g. after your site's login). The socket reconnects as that user. If
   * that is another user than before, everything of the previous one is dropped: its lists, its
   * handles (they stop working) and its unsent messages (they reject with `UNAUTHORIZED`).
   */
  async identify(verifiedToken: VerifiedTokenSource): Promise<VisitorUser> {
    if (this.closed) throw closedError();
    await this.readyPromise.catch(() => undefined);
    const before = this.auth.current?.user;
    const session = await this.auth.identify(verifiedToken);
    const changed = !before || before.id !== session.user.id || before.kind !== session.user.kind;
    this.session.suspend();
    if (changed) this.resetUserState(signedOutError());
    this.scheduleRefresh();
    this.session.connect();
    const online = this.session.whenOnline();
    online.catch(() => undefined);
    this.readyPromise = online;
    await online;
    return session.user;
  }

  /**
   * Signs the visitor out: forgets the stored token and everything of this visitor (lists,
   * handles, unsent messages, which reject with `UNAUTHORIZED`), then signs in afresh as a new
   * anonymous visitor. Resolves once connected as that one (the new `ready`). Call it when the
   * user logs out of your site, so that the next person on the same browser is someone else.
   */
  logout(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    this.session.suspend();
    this.cancelRefresh();
    this.auth.forget();
    this.resetUserState(signedOutError());
    this.readyPromise = this.begin();
    return this.readyPromise;
  }

  conversationData(id: string): Conversation | undefined {
    return this.conversationsById.get(id);
  }

  /** Messages still waiting for an acknowledgement, across conversations. */
  get pendingCount(): number {
    return this.book.pendingCount();
  }

  /** Disconnects, stops every timer and request, rejects what is still queued, removes listeners. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelRefresh();
    this.stopWatchingPages();
    this.timers.close();
    this.http.close();
    this.book.close();
    this.session.close();
    this.events.clear();
  }

  private newBook(): ConversationBook {
    return createSessionBook({
      session: this.session,
      timers: this.timers,
      sender: () => ({ id: this.auth.current?.user.id ?? '', role: 'visitor' }),
      holdOnLiveMessage: true,
      ...(this.options.maxConversations !== undefined ? { maxConversations: this.options.maxConversations } : {}),
      isCurrent: (book) => book === this.book && !this.closed,
      onSendAck: (sent, { conversation }) => {
        if (!conversation) return;
        // The message started a new conversation (the one it was sent to is resolved).
        this.rememberConversation(conversation);
        this.unread.snapshot(conversation.id, { unreadCount: 0, readSeq: 0, lastSeq: 0 });
        // Said once per new conversation, whichever message (or retry) learnt of it first.
        if (!this.continuations.has(conversation.id)) {
          this.continuations.add(conversation.id);
          this.events.emit('continued', { from: sent.conversationId, conversation });
        }
      },
      onMessage: (event) => {
        if (event.message.status === 'sent') {
          this.unread.message(event.message);
          if (this.visible.has(event.conversationId)) this.markReadQuietly(event.conversationId);
        }
        this.events.emit('message', event);
      },
      onError: (error) => this.events.emit('error', error),
    });
  }

  /** Drops everything of the visitor who was signed in: lists, handles, unsent messages. */
  private resetUserState(error: ParleyError): void {
    this.book.close(error);
    this.book = this.newBook();
    this.conversationsById.clear();
    this.handles.clear();
    this.visible.clear();
    this.reading.clear();
    this.continuations.clear();
    this.unread.forget();
  }

  /** In the background: a failure is reported as an `error` event (a later read covers it anyway). */
  private markReadQuietly(conversationId: string): void {
    this.markRead(conversationId).catch((error: unknown) => {
      if (!this.closed) this.events.emit('error', toParleyError(error));
    });
  }

  private applyRead(result: ConversationReadResult): void {
    this.unread.snapshot(result.conversationId, {
      unreadCount: result.unreadCount,
      readSeq: result.seq,
      lastSeq: result.lastSeq,
    });
  }

  /** Signs in (retrying while the server cannot be reached) and connects: the `ready` promise. */
  private begin(): Promise<void> {
    const attempt = ++this.startAttempt;
    const started = (async () => {
      try {
        // A page can load while the server is unreachable (a deploy, a flaky network): keep
        // trying to sign in instead of leaving a client that never connects.
        await untilAvailable(() => this.auth.ensure(), this.timers);
        if (attempt !== this.startAttempt) return;
        this.scheduleRefresh();
        this.session.connect();
        await this.session.whenOnline();
      } catch (raw) {
        const error = toParleyError(raw);
        // A refusal (unknown project, bad verified token, origin not allowed) stops the client:
        // sends fail with it instead of waiting for a connection that will never come.
        if (attempt === this.startAttempt) this.session.fail(error);
        throw this.session.fatal ?? error;
      }
    })();
    // Reported through `ready` and every method; never as an unhandled rejection.
    started.catch(() => undefined);
    return started;
  }

  private listen(): void {
    const socket = this.session.socket;
    socket.on('message.created', ({ message }) => this.book.ingest(message, { live: true }));
    socket.on('conversation.created', ({ conversation }) => {
      this.rememberConversation(conversation);
      // Nothing of a new conversation is read yet; its messages are counted as they come.
      this.unread.snapshot(conversation.id, { unreadCount: 0, readSeq: 0, lastSeq: conversation.lastSeq });
    });
    socket.on('conversation.updated', ({ conversation }) => this.rememberConversation(conversation));
    socket.on('typing', (event) => this.events.emit('typing', event));
    socket.on('message.read', (event) => {
      if (event.reader.role === 'visitor') {
        // This visitor read in another tab: its count there is the count here.
        if (event.unreadCount !== undefined && event.lastSeq !== undefined)
          this.unread.snapshot(event.conversationId, {
            unreadCount: event.unreadCount,
            readSeq: event.seq,
            lastSeq: event.lastSeq,
          });
        return;
      }
      this.events.emit('read', event);
    });
    // The server could not guarantee this socket every push (a node lost, Redis lost entries):
    // catch up as after a reconnect, at a random moment of the next two seconds, since every
    // visitor of the cluster may be told at once.
    socket.on('sync.reload', () => {
      this.timers.after(Math.random() * RELOAD_SPREAD_MS, () => this.afterReconnect());
    });
  }

  /** A conversation of `conversation:list`, with the visitor's unread count in it. */
  private rememberListed(conversation: Conversation): void {
    const { unreadCount, readSeq, ...rest } = conversation;
    this.rememberConversation(rest);
    if (unreadCount !== undefined && readSeq !== undefined)
      this.unread.snapshot(conversation.id, { unreadCount, readSeq, lastSeq: conversation.lastSeq });
  }

  private rememberConversation(conversation: Conversation): void {
    const known = this.conversationsById.get(conversation.id);
    if (known && Date.parse(known.updatedAt) > Date.parse(conversation.updatedAt)) return;
    this.conversationsById.set(conversation.id, conversation);
    this.events.emit('conversation', conversation);
  }

  /**
   * After a reconnect: fetch what every list missed (in the background, retried until done), and
   * learn of conversations started elsewhere meanwhile.
   */
  private afterReconnect(): void {
    this.book.catchUpAll();
    void this.relist();
  }

  private async relist(): Promise<void> {
    const book = this.book;
    try {
      const { conversations } = await untilAvailable(() => this.session.call('conversation:list', {}), this.timers);
      if (book !== this.book) return;
      for (const conversation of conversations) this.rememberListed(conversation);
    } catch (error) {
      if (!this.closed && book === this.book && !this.session.fatal) this.events.emit('error', toParleyError(error));
    }
  }

  /** Refreshes the token ahead of expiry and hands it to the live socket: the UI never notices. */
  private scheduleRefresh(): void {
    this.cancelRefresh();
    const current = this.auth.current;
    if (!current || this.closed) return;
    this.cancelRefresh = this.timers.after(refreshDelay(current, this.timers.now()), () => void this.refreshNow());
  }

  private async refreshNow(attempt = 0): Promise<void> {
    if (this.closed || this.session.fatal) return;
    const before = this.auth.current?.user;
    try {
      const renewed = await this.auth.refresh();
      if (before && renewed.user.id !== before.id) {
        // The old token was refused for good: a new visitor, so a new connection and state.
        this.session.suspend();
        this.resetUserState(signedOutError());
        this.session.connect();
      } else if (this.session.connected) {
        await this.session.call('session:renew', { token: renewed.token }).catch(() => {
          // A socket that can't renew will be closed at expiry and reconnect with the new token.
        });
      }
      this.scheduleRefresh();
    } catch (raw) {
      const error = toParleyError(raw);
      if (this.closed) return;
      if (!error.retryable) {
        this.session.fail(error);
        return;
      }
      // Offline: try again shortly. The socket reconnects with whatever token is current.
      this.cancelRefresh = this.timers.after(retryDelay(error, attempt + 4), () => void this.refreshNow(attempt + 1));
    }
  }

  /** Commands the UI awaits are retried through drops a few times, then reject. */
  private async retrying<T>(run: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await run();
      } catch (raw) {
        const error = toParleyError(raw);
        if (!error.retryable || attempt + 1 >= COMMAND_ATTEMPTS || this.closed) throw error;
        await this.timers.sleep(retryDelay(error, attempt));
      }
    }
  }
}

export function createVisitorClient(options: VisitorClientOptions): VisitorClient {
  if (!options?.url || !options.projectId) throw new ParleyError('BAD_REQUEST', 'url and projectId are required');
  baseUrlOf(options.url);
  return new VisitorClient(options);
}
