/** Reads a JWT's claims without verifying it: only to know when to refresh and whose it is. */
export function decodeClaims(token: string): { sub?: unknown; iat?: unknown; exp?: unknown } | undefined {
  const parts = token.split('.');
  const part = parts[1];
  if (parts.length !== 3 || !part) return undefined;
  try {
    const base64 = part
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(part.length / 4) * 4, '=');
    const binary = atob(base64);
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const claims: unknown = JSON.parse(json);
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A token's lifetime (`exp - iat`) in ms: a difference of two server times, so free of clock skew. */
export function tokenLifetimeMs(token: string): number | undefined {
  const claims = decodeClaims(token);
  if (typeof claims?.iat !== 'number' || typeof claims.exp !== 'number') return undefined;
  const lifetime = (claims.exp - claims.iat) * 1000;
  return lifetime > 0 ? lifetime : undefined;
}

/** A token and when this client received it, by its own clock. */
export interface HeldToken {
  token: string;
  /** Epoch ms by this client's clock; unknown for a token handed over from elsewhere. */
  receivedAt?: number;
}

/** Never refresh more often than this, whatever the clock or the token says. */
export const MIN_REFRESH_DELAY_MS = 2000;

/**
 * When a held token expires by this client's clock: receipt plus lifetime. The server's `exp` or
 * `expiresAt` cannot be compared with the local clock, which may be hours off. Unknown when the
 * token's age is (a token handed over from elsewhere).
 */
export function localExpiry(held: HeldToken): number | undefined {
  const lifetime = tokenLifetimeMs(held.token);
  if (lifetime === undefined || held.receivedAt === undefined) return undefined;
  return held.receivedAt + lifetime;
}

/**
 * How long to wait before refreshing: until a third of the lifetime is left (at least a few
 * seconds before expiry), measured from the local receipt. A token of unknown age is refreshed
 * after the minimum delay, which gives one of known age. Never less than the minimum, so no clock
 * or token can make the client refresh in a loop.
 */
export function refreshDelay(held: HeldToken, now = Date.now()): number {
  const lifetime = tokenLifetimeMs(held.token);
  const expiry = localExpiry(held);
  if (lifetime === undefined || expiry === undefined) return MIN_REFRESH_DELAY_MS;
  const margin = Math.max(lifetime / 3, Math.min(5000, lifetime / 2));
  return Math.min(lifetime, Math.max(MIN_REFRESH_DELAY_MS, expiry - margin - now));
}
