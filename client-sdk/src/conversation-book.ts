import type { Message, Sender } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { randomId } from './ids';
import { MessageStore, type ClientMessage } from './message-store';
import { Outbox, type OutgoingMessage } from './outbox';
import type { ParleyError } from './errors';

export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
}

export interface ConversationBookDeps {
  /** Who this client sends as, for pending messages. */
  sender(): Sender;
  sendOnce(message: OutgoingMessage): Promise<Message>;
  fetchPage(conversationId: string, afterSeq: number, limit: number): Promise<HistoryPage>;
  whenOnline(): Promise<void>;
  /** A message appeared or changed state; `messages` is the conversation's whole ordered list. */
  onMessage(conversationId: string, message: ClientMessage, messages: ClientMessage[]): void;
}

/**
 * Every conversation this client has touched, with its ordered message list. Messages arrive from
 * live events, acks, history pages and catch-ups after reconnects; the book merges them into one
 * list per conversation, in `seq` order, each once. Sends show at once as pending and are replaced
 * by the stored message when acknowledged.
 */
export class ConversationBook {
  private readonly stores = new Map<string, MessageStore>();
  private readonly outbox: Outbox;

  constructor(private readonly deps: ConversationBookDeps) {
    this.outbox = new Outbox({
      sendOnce: deps.sendOnce,
      whenOnline: deps.whenOnline,
      onSent: (_message, stored) => this.ingest(stored),
      onFailed: (message, error) => this.fail(message, error),
    });
  }

  store(conversationId: string): MessageStore {
    let store = this.stores.get(conversationId);
    if (!store) {
      store = new MessageStore();
      this.stores.set(conversationId, store);
    }
    return store;
  }

  messages(conversationId: string): ClientMessage[] {
    return this.store(conversationId).list();
  }

  knownConversationIds(): string[] {
    return [...this.stores.keys()];
  }

  /** A stored message from anywhere; announced only the first time. */
  ingest(message: Message): void {
    const store = this.store(message.conversationId);
    if (store.addStored(message)) {
      this.deps.onMessage(message.conversationId, { ...message, status: 'sent' }, store.list());
    }
  }

  send(conversationId: string, text: string): Promise<Message> {
    const clientMessageId = randomId();
    const store = this.store(conversationId);
    store.addPending({
      conversationId,
      clientMessageId,
      text,
      sender: this.deps.sender(),
      createdAt: new Date().toISOString(),
    });
    const pending = store.get(clientMessageId);
    if (pending) this.deps.onMessage(conversationId, pending, store.list());
    const sent = this.outbox.send({ conversationId, clientMessageId, text });
    // A UI may fire a send and follow it through the `message` event alone, where a refusal shows
    // as `failed`: an ignored promise must not become an unhandled rejection (which ends a Node
    // process). Awaiting it still throws the ParleyError.
    sent.catch(() => undefined);
    return sent;
  }

  /** Fetches whatever is missing after the last contiguous seq, page by page. */
  async catchUp(conversationId: string): Promise<void> {
    const store = this.store(conversationId);
    for (let guard = 0; guard < 10_000; guard++) {
      const page = await this.deps.fetchPage(conversationId, store.contiguousSeq(), LIMITS.historyLimitMax);
      for (const message of page.messages) this.ingest(message);
      if (!page.hasMore || page.messages.length === 0) return;
    }
  }

  async catchUpAll(): Promise<void> {
    await Promise.all(this.knownConversationIds().map((id) => this.catchUp(id)));
  }

  pendingCount(): number {
    let count = 0;
    for (const store of this.stores.values()) count += store.pendingCount();
    return count;
  }

  close(): void {
    this.outbox.close();
  }

  private fail(message: OutgoingMessage, error: ParleyError): void {
    const store = this.store(message.conversationId);
    store.markFailed(message.clientMessageId, error);
    const failed = store.get(message.clientMessageId);
    if (failed) this.deps.onMessage(message.conversationId, failed, store.list());
  }
}
