import { systemClock, type Clock } from './clock';

/** setTimeout fires at once past 2^31-1 ms; longer waits are chained. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Every timer of one client (backoff sleeps, ack and request timeouts, token refreshes), so that
 * `close()` stops them all: nothing fires after it, and a Node process can exit at once.
 */
export class Timers {
  private readonly handles = new Set<unknown>();
  private readonly sleepers = new Set<() => void>();
  private stopped = false;

  constructor(private readonly clock: Clock = systemClock) {}

  /** Epoch ms by this client's clock. */
  now(): number {
    return this.clock.now();
  }

  get closed(): boolean {
    return this.stopped;
  }

  /** Runs `run` after `ms` unless cancelled (the returned function) or closed first. */
  after(ms: number, run: () => void): () => void {
    if (this.stopped) return () => undefined;
    const wait = Math.max(0, ms);
    let handle: unknown;
    const cancel = () => {
      if (handle === undefined) return;
      this.clock.clearTimeout(handle);
      this.handles.delete(handle);
      handle = undefined;
    };
    const arm = (remaining: number) => {
      handle = this.clock.setTimeout(
        () => {
          if (handle !== undefined) this.handles.delete(handle);
          handle = undefined;
          if (remaining > MAX_TIMEOUT_MS) arm(remaining - MAX_TIMEOUT_MS);
          else run();
        },
        Math.min(remaining, MAX_TIMEOUT_MS),
      );
      this.handles.add(handle);
    };
    arm(wait);
    return cancel;
  }

  /** Resolves after `ms`, or at once when closed (callers then look at what they were waiting for). */
  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        cancel();
        this.sleepers.delete(wake);
        resolve();
      };
      const cancel = this.after(ms, wake);
      this.sleepers.add(wake);
    });
  }

  close(): void {
    this.stopped = true;
    for (const handle of this.handles) this.clock.clearTimeout(handle);
    this.handles.clear();
    for (const wake of [...this.sleepers]) wake();
  }
}
