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
