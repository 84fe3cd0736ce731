/**
 * Where a client reads the time and sets its timers. The system clock by default; a test hands a
 * clock it moves by hand, so that token refreshes, backoffs and timeouts happen when the test
 * says instead of after real seconds.
 */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
