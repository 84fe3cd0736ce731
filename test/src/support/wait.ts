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
