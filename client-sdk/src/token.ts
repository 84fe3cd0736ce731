/** Reads a JWT's claims without verifying it: only to know when to refresh and whose it is. */
export function decodeClaims(token: string): { sub?: string; iat?: number; exp?: number } {
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const base64 = part
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(part.length / 4) * 4, '=');
    const binary = atob(base64);
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    return JSON.parse(json) as { sub?: string; iat?: number; exp?: number };
  } catch {
    return {};
  }
}

/** setTimeout fires at once past 2^31-1 ms; long waits are chained. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class Timer {
  private handle: ReturnType<typeof setTimeout> | undefined;

  at(when: number, run: () => void): void {
    this.clear();
    const wait = when - Date.now();
    if (wait <= 0) {
      run();
      return;
    }
    this.handle = setTimeout(
      () => (wait > MAX_TIMEOUT_MS ? this.at(when, run) : run()),
      Math.min(wait, MAX_TIMEOUT_MS),
    );
    (this.handle as { unref?: () => void }).unref?.();
  }

  clear(): void {
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
  }
}

/**
 * When to refresh a token: once a third of its lifetime is left (at least a few seconds before
 * it expires), so a long-lived token is renewed well ahead and a short one still in time.
 */
export function refreshTime(token: string, expiresAt: number): number {
  const { iat } = decodeClaims(token);
  const issuedAt = iat ? iat * 1000 : Date.now();
  const lifetime = Math.max(0, expiresAt - issuedAt);
  return expiresAt - Math.max(lifetime / 3, Math.min(5000, lifetime / 2));
}
