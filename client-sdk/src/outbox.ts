import type { Message } from '@parley/protocol';
import { backoffDelay, sleep } from './backoff';
import { ParleyError, toParleyError } from './errors';

export interface OutgoingMessage {
  conversationId: string;
  clientMessageId: string;
  text: string;
}

export interface OutboxDeps {
  /** One attempt: resolves with the stored message, or throws. */
  sendOnce(message: OutgoingMessage): Promise<Message>;
  /** Resolves when the socket is connected (immediately if it is). */
  whenOnline(): Promise<void>;
  onSent(message: OutgoingMessage, stored: Message): void;
  onFailed(message: OutgoingMessage, error: ParleyError): void;
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
 * ones behind it.
 */
export class Outbox {
  private readonly queues = new Map<string, Entry[]>();
  private closed = false;

  constructor(private readonly deps: OutboxDeps) {}

  send(message: OutgoingMessage): Promise<Message> {
    if (this.closed) return Promise.reject(new ParleyError('UNAVAILABLE', 'The client is closed'));
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

  get size(): number {
    let size = 0;
    for (const queue of this.queues.values()) size += queue.length;
    return size;
  }

  close(): void {
    this.closed = true;
    for (const queue of this.queues.values()) {
      for (const entry of queue.splice(0))
        entry.reject(new ParleyError('UNAVAILABLE', 'The client was closed before the message was sent'));
    }
    this.queues.clear();
  }

  private async drain(conversationId: string): Promise<void> {
    const queue = this.queues.get(conversationId);
    while (queue && queue.length > 0 && !this.closed) {
      const entry = queue[0] as Entry;
      const outcome = await this.deliver(entry.message);
      if (this.closed) return;
      queue.shift();
      if (outcome instanceof ParleyError) {
        this.deps.onFailed(entry.message, outcome);
        entry.reject(outcome);
      } else {
        this.deps.onSent(entry.message, outcome);
        entry.resolve(outcome);
      }
    }
    this.queues.delete(conversationId);
  }

  private async deliver(message: OutgoingMessage): Promise<Message | ParleyError> {
    for (let attempt = 0; !this.closed; attempt++) {
      await this.deps.whenOnline();
      if (this.closed) break;
      try {
        return await this.deps.sendOnce(message);
      } catch (raw) {
        const error = toParleyError(raw);
        if (!error.retryable) return error;
        const wait =
          error.code === 'RATE_LIMITED' && typeof error.details?.retryAfterMs === 'number'
            ? error.details.retryAfterMs
            : backoffDelay(attempt);
        await sleep(wait);
      }
    }
    return new ParleyError('UNAVAILABLE', 'The client was closed before the message was sent');
  }
}
