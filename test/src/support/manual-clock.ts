import type { Clock } from '@parley/client-sdk';

interface Pending {
  at: number;
  /** The delay the timer was set with, for tests that check when a client meant to act. */
  ms: number;
  run: () => void;
  seq: number;
}

/**
 * A clock for an SDK client that moves only when the test says (`advanceToNext`), so that timer
 * work (token refreshes, retries) happens at once, in order, and at the time the client asked
 * for. Sockets and HTTP keep the real clock: only the client's own timers are driven.
 */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** The delay of every timer fired so far, in firing order. */
  readonly fired: number[] = [];

  constructor(start = Date.now()) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(run: () => void, ms: number): unknown {
    const seq = ++this.seq;
    this.pending.set(seq, { at: this.time + Math.max(0, ms), ms, run, seq });
    return seq;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** The delays of the timers waiting now, soonest first. */
  waiting(): number[] {
    return [...this.pending.values()].sort((a, b) => a.at - b.at || a.seq - b.seq).map((p) => p.at - this.time);
  }

  /** Moves the time to the soonest timer and fires it; returns its delay, or undefined if none is set. */
  advanceToNext(): number | undefined {
    const next = [...this.pending.values()].sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
    if (!next) return undefined;
    this.pending.delete(next.seq);
    this.time = Math.max(this.time, next.at);
    this.fired.push(next.ms);
    next.run();
    return next.ms;
  }
}
