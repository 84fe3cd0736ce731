import type { Message, Sender } from '@parley/protocol';
import type { ParleyError } from './errors';

export type MessageStatus = 'pending' | 'sent' | 'failed';

/**
 * A message as a UI shows it. Stored messages have `status: 'sent'` and a `seq`; messages this
 * client is still sending are `pending` (or `failed`, with the server's error). A pending message
 * and the stored one that replaces it share `clientMessageId`: key your list items by it.
 */
export type ClientMessage =
  | (Message & { status: 'sent' })
  | {
      status: 'pending' | 'failed';
      conversationId: string;
      clientMessageId: string;
      sender: Sender;
      text: string;
      createdAt: string;
      error?: ParleyError;
    };

type Unsent = Extract<ClientMessage, { status: 'pending' | 'failed' }>;

/**
 * One conversation's messages in `seq` order, without duplicates, whatever order and however many
 * times they arrive (live events, acks, history pages, other tabs). Unsent messages follow the
 * stored ones in the order they were sent.
 */
export class MessageStore {
  private readonly stored = new Map<number, Message>();
  private readonly unsent = new Map<string, Unsent>();
  private sorted: Message[] | undefined;
  /** Loaded from the server at least once (a history or catch-up): kept complete from then on. */
  loaded = false;

  /** Adds a stored message; false when it was already known. */
  addStored(message: Message): boolean {
    this.unsent.delete(message.clientMessageId);
    if (this.stored.has(message.seq)) return false;
    this.stored.set(message.seq, message);
    this.sorted = undefined;
    return true;
  }

  addPending(message: Omit<Unsent, 'status' | 'error'>): void {
    this.unsent.set(message.clientMessageId, { ...message, status: 'pending' });
  }

  markFailed(clientMessageId: string, error: ParleyError): void {
    const message = this.unsent.get(clientMessageId);
    if (message) this.unsent.set(clientMessageId, { ...message, status: 'failed', error });
  }

  /** A failed message goes back to pending (to be sent again with the same clientMessageId). */
  markPending(clientMessageId: string): Unsent | undefined {
    const message = this.unsent.get(clientMessageId);
    if (message?.status !== 'failed') return undefined;
    const { error: _error, ...rest } = message;
    const pending: Unsent = { ...rest, status: 'pending' };
    // Re-inserted: a retried message goes to the end of the list, as it goes to the end of the queue.
    this.unsent.delete(clientMessageId);
    this.unsent.set(clientMessageId, pending);
    return pending;
  }

  /** Removes a failed message; returns it, or undefined if there was no failed message by that id. */
  removeFailed(clientMessageId: string): Unsent | undefined {
    const message = this.unsent.get(clientMessageId);
    if (message?.status !== 'failed') return undefined;
    this.unsent.delete(clientMessageId);
    return message;
  }

  /** Removes an unsent message whatever its state (it was stored in another conversation); returns it. */
  dropUnsent(clientMessageId: string): Unsent | undefined {
    const message = this.unsent.get(clientMessageId);
    this.unsent.delete(clientMessageId);
    return message;
  }

  hasUnsent(): boolean {
    return this.unsent.size > 0;
  }

  /** Holds anything from the server, or was loaded from it: a list to keep complete. */
  get live(): boolean {
    return this.loaded || this.stored.size > 0;
  }

  get(clientMessageId: string): ClientMessage | undefined {
    const unsent = this.unsent.get(clientMessageId);
    if (unsent) return unsent;
    for (const message of this.stored.values()) {
      if (message.clientMessageId === clientMessageId) return { ...message, status: 'sent' };
    }
    return undefined;
  }

  /** The highest seq with every message before it present: where a catch-up must start. */
  contiguousSeq(): number {
    let seq = 0;
    while (this.stored.has(seq + 1)) seq++;
    return seq;
  }

  lastSeq(): number {
    let max = 0;
    for (const seq of this.stored.keys()) if (seq > max) max = seq;
    return max;
  }

  list(): ClientMessage[] {
    this.sorted ??= [...this.stored.values()].sort((a, b) => a.seq - b.seq);
    return [...this.sorted.map((m): ClientMessage => ({ ...m, status: 'sent' })), ...this.unsent.values()];
  }

  pendingCount(): number {
    let count = 0;
    for (const m of this.unsent.values()) if (m.status === 'pending') count++;
    return count;
  }
}
