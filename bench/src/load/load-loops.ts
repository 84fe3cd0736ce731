import { performance } from 'node:perf_hooks';
import type { Socket } from 'socket.io-client';
import type { Ack } from './sockets';
import type { ClosedLoadSpec, LoadResult, OpenLoadSpec } from './worker-messages';

export interface Visitor {
  socket: Socket;
  conversationId?: string;
}

/** About the size of a real chat line; the same for both servers. */
const TEXT = 'Hello, I have a question about my order: it has not arrived yet, can you help?';
/** How often progress goes back to the orchestrator. */
const PROGRESS_MS = 500;

/**
 * Bookkeeping shared by both loops. Send time and agent receive time are read from this one
 * process's monotonic clock (the agent socket lives in the same worker as the senders), so the
 * latency needs no clock synchronisation.
 */
class Measurement {
  private readonly sentAt = new Map<string, number>();
  private readonly prefix = `${process.pid}-${Date.now().toString(36)}-`;
  private counter = 0;
  readonly result: LoadResult = {
    elapsedMs: 0,
    sent: 0,
    acked: 0,
    failed: 0,
    ackedInWindow: 0,
    delivered: 0,
    deliveredInWindow: 0,
    deliveryLatencies: [],
    ackLatencies: [],
    undelivered: 0,
    skipped: 0,
  };
  readonly started = performance.now();
  private readonly onCreated = ({ message }: { message: { clientMessageId: string } }) => {
    const at = this.sentAt.get(message.clientMessageId);
    if (at === undefined) return;
    this.sentAt.delete(message.clientMessageId);
    const now = performance.now();
    this.result.delivered++;
    if (now <= this.deadline) this.result.deliveredInWindow++;
    this.result.deliveryLatencies.push(now - at);
  };

  constructor(
    private readonly agent: Socket,
    readonly deadline: number,
  ) {
    agent.on('message.created', this.onCreated);
  }

  /** Sends one message; `then` runs once its ack (or failure) is in. */
  send(visitor: Visitor, then?: () => void): void {
    const clientMessageId = this.prefix + (this.counter++).toString(36);
    const at = performance.now();
    this.sentAt.set(clientMessageId, at);
    this.result.sent++;
    const payload = { conversationId: visitor.conversationId, clientMessageId, text: TEXT };
    visitor.socket.emit('message:send', payload, (reply: Ack<unknown>) => {
      const now = performance.now();
      if (reply.ok) {
        this.result.acked++;
        if (now <= this.deadline) this.result.ackedInWindow++;
        this.result.ackLatencies.push(now - at);
      } else {
        this.result.failed++;
        this.result.firstError ??= `${reply.error.code} ${reply.error.message}`;
        this.sentAt.delete(clientMessageId);
      }
      then?.();
    });
  }

  get outstanding(): number {
    return this.sentAt.size;
  }

  get unacked(): number {
    return this.result.sent - this.result.acked - this.result.failed;
  }

  /**
   * Waits until every ack and delivery is in, or `drainMs` has passed; then, whatever the figures
   * say, until the acks are in (up to a minute more), so the server is idle for what comes next.
   */
  async drain(drainMs: number): Promise<LoadResult> {
    const sleep = () => new Promise((resolve) => setTimeout(resolve, 20));
    const until = performance.now() + drainMs;
    while ((this.unacked > 0 || this.outstanding > 0) && performance.now() < until) await sleep();
    this.agent.off('message.created', this.onCreated);
    this.result.undelivered = this.outstanding;
    const idle = performance.now() + 60_000;
    while (this.unacked > 0 && performance.now() < idle) await sleep();
    this.result.elapsedMs = this.deadline - this.started;
    this.sentAt.clear();
    return this.result;
  }
}

function senders(visitors: Visitor[]): Visitor[] {
  const ready = visitors.filter((v) => v.conversationId !== undefined);
  if (ready.length === 0) throw new Error('no visitor has a conversation to send to');
  return ready;
}

function ticker(durationMs: number, progress: (done: number, total: number) => void): NodeJS.Timeout {
  const started = performance.now();
  return setInterval(() => progress(Math.round(performance.now() - started), durationMs), PROGRESS_MS);
}

/**
 * Closed loop: every visitor keeps `window` messages in flight and sends the next one as soon as
 * an ack comes back, until the deadline. Throughput is acks (and agent deliveries) inside the window.
 */
export async function runClosedLoad(
  visitors: Visitor[],
  agent: Socket,
  spec: ClosedLoadSpec,
  progress: (done: number, total: number) => void,
): Promise<LoadResult> {
  const lanes = senders(visitors);
  const m = new Measurement(agent, performance.now() + spec.durationMs);
  const pump = (visitor: Visitor) => {
    if (performance.now() >= m.deadline) return;
    m.send(visitor, () => pump(visitor));
  };
  const timer = ticker(spec.durationMs, progress);
  for (const visitor of lanes) for (let i = 0; i < spec.window; i++) pump(visitor);
  await new Promise((resolve) => setTimeout(resolve, spec.durationMs));
  clearInterval(timer);
  return m.drain(10_000);
}

/**
 * Open loop: messages go out at a fixed rate whatever the server does (no waiting for acks), spread
 * round-robin over the visitors, so a slow server shows as latency rather than as a lower rate.
 */
export async function runOpenLoad(
  visitors: Visitor[],
  agent: Socket,
  spec: OpenLoadSpec,
  progress: (done: number, total: number) => void,
): Promise<LoadResult> {
  const lanes = senders(visitors);
  const started = performance.now();
  const m = new Measurement(agent, started + spec.durationMs);
  let next = 0;
  const timer = ticker(spec.durationMs, progress);
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      const due = Math.floor(((Math.min(now, m.deadline) - started) * spec.ratePerSec) / 1000);
      while (m.result.sent + m.result.skipped < due) {
        if (m.unacked >= spec.maxUnacked) m.result.skipped++;
        else m.send(lanes[next++ % lanes.length] as Visitor);
      }
      if (now >= m.deadline) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  clearInterval(timer);
  return m.drain(spec.drainMs);
}
