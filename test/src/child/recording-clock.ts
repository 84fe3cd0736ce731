import type { Clock } from '@parley/client-sdk';

/**
 * The system clock (real timers: a script still exits only once none is left), keeping count of
 * the timers armed through it now, by length, so that a script can wait until a client's work
 * has reached its timers instead of sleeping for a while.
 */
export class RecordingClock implements Clock {
  private readonly armedNow = new Map<unknown, number>();

  now(): number {
    return Date.now();
  }

  setTimeout(run: () => void, ms: number): unknown {
    const handle = setTimeout(() => {
      this.armedNow.delete(handle);
      run();
    }, ms);
    this.armedNow.set(handle, ms);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.armedNow.delete(handle);
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  }

  /** The lengths of the timers armed now, for a message saying what was waiting. */
  lengths(): number[] {
    return [...this.armedNow.values()].sort((a, b) => a - b);
  }

  /** How many timers of exactly `ms` are armed now. */
  armed(ms: number): number {
    let count = 0;
    for (const length of this.armedNow.values()) if (length === ms) count++;
    return count;
  }
}
