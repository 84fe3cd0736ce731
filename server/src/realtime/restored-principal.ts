/**
 * The `principal` a previous socket's data held, if it has that shape: what a namespace compares
 * with the new token's principal before a recovered session's packets are replayed (see
 * `resumeSession` in @parley/realtime-adapter).
 */
export function restoredPrincipal(data: unknown): Record<string, unknown> | undefined {
  const principal = (data as { principal?: unknown } | undefined)?.principal;
  return typeof principal === 'object' && principal !== null ? (principal as Record<string, unknown>) : undefined;
}
