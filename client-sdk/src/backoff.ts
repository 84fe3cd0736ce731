import { ParleyError, toParleyError } from './errors';

/** Exponential backoff with full jitter, so many clients coming back at once spread out. */
export function backoffDelay(attempt: number, baseMs = 250, maxMs = 10_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.floor(ceiling / 2 + Math.random() * (ceiling / 2));
}

export function sleep(ms: number, signal?: { aborted: boolean }): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    setTimeout(resolve, ms);
  });
}

/**
 * Runs `attempt` until it succeeds, waiting with backoff after each failure the server or the
 * network caused (UNAVAILABLE, RATE_LIMITED, INTERNAL). A refusal of the request itself, or the
 * client being closed, ends it with that error.
 */
export async function untilAvailable<T>(attempt: () => Promise<T>, isClosed: () => boolean): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (raw) {
      const error = toParleyError(raw);
      if (!error.retryable || isClosed()) throw error;
      const retryAfter = error.details?.retryAfterMs;
      await sleep(typeof retryAfter === 'number' ? retryAfter : backoffDelay(n));
      if (isClosed()) throw new ParleyError('UNAVAILABLE', 'The client was closed');
    }
  }
}
