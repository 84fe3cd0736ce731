import type { Message } from '@parley/protocol';
import type { Clock } from '../src/clock';
import { ParleyError } from '../src/errors';
import { Outbox, type OutgoingMessage } from '../src/outbox';
import { Timers } from '../src/timers';

/** A clock whose timers fire only when the test says, so a backoff is seen and never waited for. */
class HandClock implements Clock {
  private next = 0;
  readonly pending = new Map<number, { ms: number; run: () => void }>();
  now(): number {
    return 0;
  }
  setTimeout(run: () => void, ms: number): unknown {
    this.pending.set(++this.next, { ms, run });
    return this.next;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Fires every timer set so far; returns their delays. */
  fireAll(): number[] {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const timer of due) timer.run();
    return due.map((t) => t.ms);
  }
}

/** One attempt the fake transport received, settled by the test. */
interface Attempt {
  message: OutgoingMessage;
  resolve(stored: Message): void;
  reject(error: unknown): void;
}

/** Lets every promise continuation already queued run (the outbox awaits between its steps). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function stored(message: OutgoingMessage, seq: number): Message {
  return {
    id: `m-${message.clientMessageId}`,
    conversationId: message.conversationId,
    projectId: 'p1',
    seq,
    clientMessageId: message.clientMessageId,
    sender: { id: 'u1', role: 'visitor' },
    text: message.text,
    createdAt: new Date(0).toISOString(),
  };
}

function setup() {
  const clock = new HandClock();
  const timers = new Timers(clock);
  const attempts: Attempt[] = [];
  const sent: string[] = [];
  const failed: { id: string; code: string }[] = [];
  let online: Promise<void> = Promise.resolve();
  const outbox = new Outbox({
    sendOnce: (message) => new Promise<Message>((resolve, reject) => attempts.push({ message, resolve, reject })),
    whenOnline: () => online,
    onSent: (message) => sent.push(message.clientMessageId),
    onFailed: (message, error) => failed.push({ id: message.clientMessageId, code: error.code }),
    timers,
  });
  const message = (conversationId: string, clientMessageId: string): OutgoingMessage => ({
    conversationId,
    clientMessageId,
    text: `text ${clientMessageId}`,
  });
  /** Settles each promise into a list, so a test sees what settled without awaiting it. */
  const track = (promise: Promise<Message>) => {
    const outcome: { value?: Message; error?: ParleyError } = {};
    promise.then(
      (value) => (outcome.value = value),
      (error: ParleyError) => (outcome.error = error),
    );
    return outcome;
  };
  return {
    clock,
    timers,
    attempts,
    sent,
    failed,
    outbox,
    message,
    track,
    setOnline: (gate: Promise<void>) => (online = gate),
  };
}

const unavailable = () => new ParleyError('UNAVAILABLE', 'no ack');

describe('Outbox', () => {
  it('retries a failed attempt after a backoff with the same clientMessageId, and resolves once acknowledged', async () => {
    const t = setup();
    const m = t.message('c1', 'k1');
    const outcome = t.track(t.outbox.send(m));
    await turn();
    expect(t.attempts).toHaveLength(1);

    t.attempts[0]?.reject(unavailable());
    await turn();
    // Not retried at once: it waits for a backoff timer.
    expect(t.attempts).toHaveLength(1);
    const delays = t.clock.fireAll();
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThan(0);
    await turn();

    expect(t.attempts).toHaveLength(2);
    expect(t.attempts[1]?.message).toEqual(m);
    t.attempts[1]?.resolve(stored(m, 1));
    await turn();
    expect(outcome.value?.seq).toBe(1);
    expect(t.sent).toEqual(['k1']);
    expect(t.outbox.size).toBe(0);
    expect(t.outbox.hasConversation('c1')).toBe(false);
  });

  it('uses the Retry-After of a RATE_LIMITED refusal as the wait', async () => {
    const t = setup();
    t.track(t.outbox.send(t.message('c1', 'k1')));
    await turn();
    t.attempts[0]?.reject(new ParleyError('RATE_LIMITED', 'slow down', { retryAfterMs: 1234 }));
    await turn();
    expect(t.clock.fireAll()).toEqual([1234]);
  });

  it("keeps one message in flight per conversation and each conversation's order; conversations go side by side", async () => {
    const t = setup();
    const a1 = t.message('a', 'a1');
    const a2 = t.message('a', 'a2');
    const a3 = t.message('a', 'a3');
    const b1 = t.message('b', 'b1');
    const outcomes = [a1, a2, b1, a3].map((m) => t.track(t.outbox.send(m)));
    await turn();
    expect(t.attempts.map((a) => a.message.clientMessageId)).toEqual(['a1', 'b1']);
    expect(t.outbox.size).toBe(4);
    expect(t.outbox.has('a3')).toBe(true);

    // b's ack does not let a's second message overtake its first.
    t.attempts[1]?.resolve(stored(b1, 1));
    await turn();
    expect(t.attempts).toHaveLength(2);

    t.attempts[0]?.resolve(stored(a1, 1));
    await turn();
    expect(t.attempts.map((a) => a.message.clientMessageId)).toEqual(['a1', 'b1', 'a2']);
    t.attempts[2]?.resolve(stored(a2, 2));
    await turn();
    expect(t.attempts[3]?.message.clientMessageId).toBe('a3');
    t.attempts[3]?.resolve(stored(a3, 3));
    await turn();

    expect(t.sent).toEqual(['b1', 'a1', 'a2', 'a3']);
    expect(outcomes.map((o) => o.value?.seq)).toEqual([1, 2, 1, 3]);
  });

  it('fails a message the server refuses for what it is, without blocking the ones behind it', async () => {
    const t = setup();
    const first = t.track(t.outbox.send(t.message('c1', 'k1')));
    const second = t.track(t.outbox.send(t.message('c1', 'k2')));
    await turn();
    t.attempts[0]?.reject(new ParleyError('PAYLOAD_TOO_LARGE', 'too long'));
    await turn();
    expect(first.error?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(t.failed).toEqual([{ id: 'k1', code: 'PAYLOAD_TOO_LARGE' }]);
    // No backoff for a refusal: the next message goes at once.
    expect(t.clock.pending.size).toBe(0);
    expect(t.attempts[1]?.message.clientMessageId).toBe('k2');
    t.attempts[1]?.resolve(stored(t.message('c1', 'k2'), 1));
    await turn();
    expect(second.value?.seq).toBe(1);
  });

  it('waits while offline and fails the message with the refusal once the client is refused for good', async () => {
    const t = setup();
    let refuse: (error: unknown) => void = () => undefined;
    t.setOnline(new Promise<void>((_resolve, reject) => (refuse = reject)));
    const outcome = t.track(t.outbox.send(t.message('c1', 'k1')));
    await turn();
    expect(t.attempts).toHaveLength(0);
    refuse(new ParleyError('UNAUTHORIZED', 'token refused'));
    await turn();
    expect(outcome.error?.code).toBe('UNAUTHORIZED');
    expect(t.failed).toEqual([{ id: 'k1', code: 'UNAUTHORIZED' }]);
    expect(t.attempts).toHaveLength(0);
  });

  it('close() rejects what is queued and in flight, ignores a late ack, never retries, and refuses new sends', async () => {
    const t = setup();
    const m1 = t.message('c1', 'k1');
    const inFlight = t.track(t.outbox.send(m1));
    const queued = t.track(t.outbox.send(t.message('c1', 'k2')));
    await turn();
    expect(t.attempts).toHaveLength(1);

    const closed = new ParleyError('UNAVAILABLE', 'closed by test', undefined, { retryable: false });
    t.outbox.close(closed);
    await turn();
    expect(inFlight.error).toBe(closed);
    expect(queued.error).toBe(closed);
    expect(t.outbox.size).toBe(0);

    // The attempt under way fails (retryable) after the close: whatever wait follows, no second attempt.
    t.attempts[0]?.reject(unavailable());
    await turn();
    t.clock.fireAll();
    await turn();
    expect(t.attempts).toHaveLength(1);
    expect(t.sent).toEqual([]);
    expect(t.failed).toEqual([]);

    const late = t.track(t.outbox.send(t.message('c1', 'k3')));
    await turn();
    expect(late.error).toBe(closed);
    expect(t.attempts).toHaveLength(1);
  });

  it('close() during a backoff stops the retry', async () => {
    const t = setup();
    const outcome = t.track(t.outbox.send(t.message('c1', 'k1')));
    await turn();
    t.attempts[0]?.reject(unavailable());
    await turn();
    expect(t.clock.pending.size).toBe(1);
    t.outbox.close();
    // The client closes its timers with the outbox; the sleeper wakes and must not try again.
    t.timers.close();
    await turn();
    await turn();
    expect(outcome.error?.code).toBe('UNAVAILABLE');
    expect(t.attempts).toHaveLength(1);
  });
});
