import type { Message } from '@parley/protocol';
import { retryDelay } from './backoff';
import { closedError, ParleyError, toParleyError } from './errors';
import type { Timers } from './timers';

export interface OutgoingMessage {
  conversationId: string;
  clientMessageId: string;
  text: string;
}

export interface OutboxDeps {
  /** One attempt: resolves with the stored message, or throws. */
  sendOnce(message: OutgoingMessage): Promise<Message>;
  /**
   * Resolves when the socket is connected (immediately if it is); rejects once the client was
   * refused for good or closed, which fails the message with that error.
   */
  whenOnline(): Promise<void>;
  onSent(message: OutgoingMessage, stored: Message): void;
  onFailed(message: OutgoingMessage, error: ParleyError): void;
  timers: Timers;
}

interface Entry {
  message: OutgoingMessage;
  resolve(message: Message): void;
  reject(error: ParleyError): void;
}

/**
 * Messages waiting to be acknowledged. Each conversation's messages go out one at a time, in the
 * order they were sent, retried with backoff across disconnects until the server acknowledges
 * them; the `clientMessageId` makes every retry safe (the server stores a message once). A
 * message the server refuses for what it is (too long, not allowed) fails without blocking the
 * ones behind it; once the client is refused for good, every message fails with that refusal.
 */
export class Outbox {
  private readonly queues = new Map<string, Entry[]>();
  private closedWith: ParleyError | undefined;

  constructor(private readonly deps: OutboxDeps) {}

  send(message: OutgoingMessage): Promise<Message> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<Message>((resolve, reject) => {
      const queue = this.queues.get(message.conversationId);
      const entry: Entry = { message, resolve, reject };
      if (queue) {
        queue.push(entry);
        return;
      }
      this.queues.set(message.conversationId, [entry]);
      void this.drain(message.conversationId);
    });
  }

  /** Whether a message is still queued or being sent. */
  has(clientMessageId: string): boolean {
    for (const queue of this.queues.values()) {
      if (queue.some((e) => e.message.clientMessageId === clientMessageId)) return true;
    }
    return false;
  }

  hasConversation(conversationId: string): boolean {
    return this.queues.has(conversationId);
  }

  get size(): number {
    let size = 0;
    for (const queue of this.queues.values()) size += queue.length;
    return size;
  }

  /** Rejects everything still queued with `error` (the client closed, or its user changed). */
  close(error: ParleyError = closedError()): void {
    if (this.closedWith) return;
    this.closedWith = error;
    for (const queue of this.queues.values()) {
      for (const entry of queue.splice(0)) entry.reject(error);
    }
    this.queues.clear();
  }

  private async drain(conversationId: string): Promise<void> {
    const queue = this.queues.get(conversationId);
    while (queue && queue.length > 0 && !this.closedWith) {
      const entry = queue[0] as Entry;
      const outcome = await this.deliver(entry.message);
      if (this.closedWith) return;
      queue.shift();
      if (outcome instanceof ParleyError) {
        this.deps.onFailed(entry.message, outcome);
        entry.reject(outcome);
      } else {
        this.deps.onSent(entry.message, outcome);
        entry.resolve(outcome);
      }
    }
    if (this.queues.get(conversationId) === queue) this.queues.delete(conversationId);
  }

  private async deliver(message: OutgoingMessage): Promise<Message | ParleyError> {
    for (let attempt = 0; !this.closedWith; attempt++) {
      try {
        await this.deps.whenOnline();
      } catch (raw) {
        // Refused for good (or closed): waiting longer cannot help.
        return toParleyError(raw);
      }
      if (this.closedWith) break;
      try {
        return await this.deps.sendOnce(message);
      } catch (raw) {
        const error = toParleyError(raw);
        if (!error.retryable) return error;
        await this.deps.timers.sleep(retryDelay(error, attempt));
      }
    }
    return this.closedWith ?? closedError();
  }
}
