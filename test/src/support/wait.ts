/**
 * Waits for a condition instead of sleeping: resolves with the first truthy value `check` returns,
 * or fails with `what` and the last state `describe` gives, so a failure says what was missing.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${options.describe ? `: ${options.describe()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 25));
  }
}

export type Outcome<T> = { state: 'resolved'; value: T } | { state: 'rejected'; error: unknown } | { state: 'pending' };

/**
 * How a promise has settled after at most `ms`: for checking that something does not hang (the
 * bound is a deadline for "never", far above how long the thing takes; not a speed check).
 */
export async function outcomeWithin<T>(promise: Promise<T>, ms: number): Promise<Outcome<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<Outcome<T>>((resolve) => {
    timer = setTimeout(() => resolve({ state: 'pending' }), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Outcome<T> => ({ state: 'resolved', value }),
        (error: unknown): Outcome<T> => ({ state: 'rejected', error }),
      ),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
