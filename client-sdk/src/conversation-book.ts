import type { Message, Sender } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { retryDelay } from './backoff';
import { closedError, ParleyError, toParleyError } from './errors';
import { randomId } from './ids';
import { MessageStore, type ClientMessage } from './message-store';
import { Outbox, type OutgoingMessage } from './outbox';
import type { Timers } from './timers';

export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
}

export interface ConversationBookDeps {
  /** Who this client sends as, for pending messages. */
  sender(): Sender;
  sendOnce(message: OutgoingMessage): Promise<Message>;
  fetchPage(conversationId: string, afterSeq: number, limit: number): Promise<HistoryPage>;
  /** Resolves when connected; rejects once the client is refused for good or closed. */
  whenOnline(): Promise<void>;
  /** A message appeared or changed state; `messages` is the conversation's whole ordered list. */
  onMessage(conversationId: string, message: ClientMessage, messages: ClientMessage[]): void;
  /** A background catch-up met an error that retrying cannot change (the conversation is gone). */
  onCatchUpError(conversationId: string, error: ParleyError): void;
  timers: Timers;
  /**
   * Whether a live message of a conversation not held yet starts holding it. A visitor hears only
   * its own conversations and holds them all; an agent hears the whole project and holds only the
   * conversations its console uses.
   */
  holdOnLiveMessage: boolean;
  /** How many conversations' lists are kept; beyond it the least recently used one is dropped. */
  maxConversations: number;
}

/** Background catch-ups running at once (after a reconnect, one per held conversation). */
export const CATCH_UP_CONCURRENCY = 4;
export const DEFAULT_MAX_CONVERSATIONS = 50;

/**
 * The conversations this client holds, each with its ordered message list. Messages arrive from
 * live events, acks, history pages and catch-ups after reconnects; the book merges them into one
 * list per conversation, in `seq` order, each once. Sends show at once as pending and are replaced
 * by the stored message when acknowledged. A list that skips a `seq`, or that may have missed
 * messages during a disconnect, is caught up in the background, retried with backoff until it
 * succeeds, a few conversations at a time.
 */
export class ConversationBook {
  /** In least-recently-used order (a Map iterates in insertion order; a use re-inserts). */
  private readonly stores = new Map<string, MessageStore>();
  private readonly outbox: Outbox;
  private closed = false;
  private closedWith: ParleyError | undefined;
  /** Waiting for a background catch-up slot. */
  private readonly queued: string[] = [];
  private readonly running = new Set<string>();
  /** Asked again while running: run once more when done. */
  private readonly again = new Set<string>();

  constructor(private readonly deps: ConversationBookDeps) {
    this.outbox = new Outbox({
      sendOnce: deps.sendOnce,
      whenOnline: deps.whenOnline,
      timers: deps.timers,
      onSent: (message, stored) => {
        // Stored in another conversation (the one it was sent to is resolved, and the project
        // starts a new one then): it leaves the list it was shown in as pending.
        if (stored.conversationId !== message.conversationId)
          this.moved(message.conversationId, message.clientMessageId);
        this.ingest(stored, { live: false });
      },
      onFailed: (message, error) => this.fail(message, error),
    });
  }

  /** The conversation's list, made if needed; marks it as just used. */
  hold(conversationId: string): MessageStore {
    let store = this.stores.get(conversationId);
    if (store) {
      this.stores.delete(conversationId);
    } else {
      store = new MessageStore();
    }
    this.stores.set(conversationId, store);
    this.evict();
    return store;
  }

  isHeld(conversationId: string): boolean {
    return this.stores.has(conversationId);
  }

  heldConversationIds(): string[] {
    return [...this.stores.keys()];
  }

  /** The list held now (empty if the conversation is not held). */
  messages(conversationId: string): ClientMessage[] {
    return this.stores.get(conversationId)?.list() ?? [];
  }

  /** The highest seq of a stored message held of the conversation (0 if none). */
  lastStoredSeq(conversationId: string): number {
    return this.stores.get(conversationId)?.lastSeq() ?? 0;
  }

  /** Stops holding a conversation's list (unless it has unsent messages); true if dropped. */
  release(conversationId: string): boolean {
    const store = this.stores.get(conversationId);
    if (!store || store.hasUnsent() || this.outbox.hasConversation(conversationId)) return false;
    this.stores.delete(conversationId);
    return true;
  }

  /**
   * A stored message from anywhere; announced only the first time. A message further on than the
   * next expected `seq` means some were missed: they are fetched.
   */
  ingest(message: Message, { live }: { live: boolean }): void {
    if (this.closed) return;
    const held = this.stores.get(message.conversationId);
    if (!held && live && !this.deps.holdOnLiveMessage) return;
    const store = this.hold(message.conversationId);
    this.add(store, message);
    if (message.seq > store.contiguousSeq() + 1) this.requestCatchUp(message.conversationId);
  }

  send(conversationId: string, text: string): Promise<Message> {
    if (this.closedWith) return this.refuse(this.closedWith);
    const clientMessageId = randomId();
    const store = this.hold(conversationId);
    store.addPending({
      conversationId,
      clientMessageId,
      text,
      sender: this.deps.sender(),
      createdAt: new Date().toISOString(),
    });
    const pending = store.get(clientMessageId);
    if (pending) this.announce(conversationId, pending, store);
    return this.enqueue({ conversationId, clientMessageId, text });
  }

  /** Sends a failed message again, with the same clientMessageId; it shows as pending meanwhile. */
  retry(conversationId: string, clientMessageId: string): Promise<Message> {
    const store = this.stores.get(conversationId);
    const pending = store?.markPending(clientMessageId);
    if (this.closedWith) return this.refuse(this.closedWith);
    if (!store || !pending) {
      return this.refuse(new ParleyError('BAD_REQUEST', 'Only a failed message of a held conversation can be retried'));
    }
    this.announce(conversationId, pending, store);
    return this.enqueue({ conversationId, clientMessageId, text: pending.text });
  }

  /** Removes a failed message from its list; false if there is no such failed message. */
  discard(conversationId: string, clientMessageId: string): boolean {
    const store = this.stores.get(conversationId);
    const removed = store?.removeFailed(clientMessageId);
    if (!store || !removed) return false;
    this.announce(conversationId, removed, store);
    return true;
  }

  /** Fetches whatever is missing after the last contiguous seq, page by page, now (throws on failure). */
  async catchUp(conversationId: string): Promise<void> {
    this.hold(conversationId);
    await this.fetchMissing(conversationId);
  }

  /** A catch-up in the background: retried with backoff until it succeeds, a few at a time. */
  requestCatchUp(conversationId: string): void {
    if (this.closed) return;
    if (this.running.has(conversationId)) {
      this.again.add(conversationId);
      return;
    }
    if (this.queued.includes(conversationId)) return;
    this.queued.push(conversationId);
    this.pump();
  }

  /** After a reconnect: every list holding anything may have missed messages. */
  catchUpAll(): void {
    for (const [id, store] of this.stores) if (store.live) this.requestCatchUp(id);
  }

  pendingCount(): number {
    let count = 0;
    for (const store of this.stores.values()) count += store.pendingCount();
    return count;
  }

  /** Stops everything; queued sends reject with `error` and nothing is announced any more. */
  close(error: ParleyError = closedError()): void {
    if (this.closed) return;
    this.closed = true;
    this.closedWith = error;
    this.queued.splice(0);
    this.again.clear();
    this.outbox.close(error);
  }

  private enqueue(message: OutgoingMessage): Promise<Message> {
    const sent = this.outbox.send(message);
    // A UI may fire a send and follow it through the `message` event alone, where a refusal shows
    // as `failed`: an ignored promise must not become an unhandled rejection (which ends a Node
    // process). Awaiting it still throws the ParleyError.
    sent.catch(() => undefined);
    return sent;
  }

  /** A rejected promise nobody has to catch (the UI may follow the `message` event instead). */
  private refuse(error: ParleyError): Promise<never> {
    const refused = Promise.reject(error);
    refused.catch(() => undefined);
    return refused;
  }

  private add(store: MessageStore, message: Message): void {
    if (store.addStored(message)) this.announce(message.conversationId, { ...message, status: 'sent' }, store);
  }

  private announce(conversationId: string, message: ClientMessage, store: MessageStore): void {
    if (!this.closed) this.deps.onMessage(conversationId, message, store.list());
  }

  private pump(): void {
    while (this.running.size < CATCH_UP_CONCURRENCY && this.queued.length > 0 && !this.closed) {
      const id = this.queued.shift() as string;
      if (!this.stores.has(id)) continue;
      this.running.add(id);
      void this.catchUpUntilDone(id).then(() => {
        this.running.delete(id);
        if (this.again.delete(id)) this.requestCatchUp(id);
        this.pump();
      });
    }
  }

  private async catchUpUntilDone(conversationId: string): Promise<void> {
    for (let attempt = 0; !this.closed && this.stores.has(conversationId); attempt++) {
      try {
        await this.deps.whenOnline();
      } catch {
        return; // refused for good, or closed: nothing more will come
      }
      try {
        await this.fetchMissing(conversationId);
        return;
      } catch (raw) {
        const error = toParleyError(raw);
        if (this.closed) return;
        if (!error.retryable) {
          this.deps.onCatchUpError(conversationId, error);
          return;
        }
        await this.deps.timers.sleep(retryDelay(error, attempt));
      }
    }
  }

  private async fetchMissing(conversationId: string): Promise<void> {
    const store = this.stores.get(conversationId);
    if (!store) return;
    for (let guard = 0; guard < 100_000; guard++) {
      const page = await this.deps.fetchPage(conversationId, store.contiguousSeq(), LIMITS.historyLimitMax);
      if (this.closed || this.stores.get(conversationId) !== store) return;
      for (const message of page.messages) this.add(store, message);
      store.loaded = true;
      if (!page.hasMore || page.messages.length === 0) return;
    }
  }

  private fail(message: OutgoingMessage, error: ParleyError): void {
    const store = this.stores.get(message.conversationId);
    if (!store) return;
    store.markFailed(message.clientMessageId, error);
    const failed = store.get(message.clientMessageId);
    if (failed) this.announce(message.conversationId, failed, store);
  }

  private moved(conversationId: string, clientMessageId: string): void {
    const store = this.stores.get(conversationId);
    const removed = store?.dropUnsent(clientMessageId);
    if (store && removed) this.announce(conversationId, removed, store);
  }

  /** Drops the least recently used lists beyond the limit, never one with unsent messages. */
  private evict(): void {
    if (this.stores.size <= this.deps.maxConversations) return;
    for (const [id, store] of this.stores) {
      if (this.stores.size <= this.deps.maxConversations) return;
      if (store.hasUnsent() || this.outbox.hasConversation(id) || this.running.has(id)) continue;
      this.stores.delete(id);
    }
  }
}
