import { closedError, toParleyError, type ParleyError } from './errors';
import type { Timers } from './timers';

/** Exponential backoff with full jitter, so many clients coming back at once spread out. */
export function backoffDelay(attempt: number, baseMs = 250, maxMs = 10_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.floor(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** How long to wait after `error` on try number `attempt`: the server's Retry-After, else backoff. */
export function retryDelay(error: ParleyError, attempt: number): number {
  const retryAfter = error.details?.retryAfterMs;
  return typeof retryAfter === 'number' ? retryAfter : backoffDelay(attempt);
}

/**
 * Runs `attempt` until it succeeds, waiting with backoff after each failure the server or the
 * network caused (UNAVAILABLE, RATE_LIMITED, INTERNAL). A refusal of the request itself, or the
 * timers being closed (the client closed), ends it with that error.
 */
export async function untilAvailable<T>(attempt: () => Promise<T>, timers: Timers): Promise<T> {
  for (let n = 0; ; n++) {
    if (timers.closed) throw closedError();
    try {
      return await attempt();
    } catch (raw) {
      const error = toParleyError(raw);
      if (!error.retryable || timers.closed) throw timers.closed ? closedError() : error;
      await timers.sleep(retryDelay(error, n));
    }
  }
}
