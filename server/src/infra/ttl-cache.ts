import { monotonicMs } from './clock';

/**
 * A small cache whose entries are fresh for `freshMs` and usable (stale) for `maxAgeMs`. `peek`
 * answers synchronously from either; callers refresh stale entries in the background.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; at: number }>();

  constructor(
    private readonly freshMs: number,
    private readonly maxAgeMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  peek(key: string): { value: V; fresh: boolean } | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    // Ages on the monotonic clock: a wall clock set back an hour must not keep entries for an hour.
    const age = monotonicMs() - entry.at;
    if (age > this.maxAgeMs) {
      this.entries.delete(key);
      return undefined;
    }
    return { value: entry.value, fresh: age <= this.freshMs };
  }

  set(key: string, value: V): void {
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      // Drop the oldest entry (Map keeps insertion order).
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.delete(key);
    this.entries.set(key, { value, at: monotonicMs() });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
