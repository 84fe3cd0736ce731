import type { Redis } from 'ioredis';
import { TtlCache } from '../infra/ttl-cache';

/**
 * Says whether a visitor's `lastSeenAt` is due a write: at most once per interval per visitor,
 * whichever node sees it (a Redis `SET NX PX` claims the interval; without Redis, this node's
 * memory). The write itself is a `$max` (LeadService.touch), so nodes racing or a late write
 * never move it back.
 */
export interface LastSeenThrottle {
  due(projectId: string, userId: string): Promise<boolean>;
  /** Gives the interval back when nothing was written (the visitor has no contact yet). */
  release(projectId: string, userId: string): Promise<void>;
}

export class MemoryLastSeenThrottle implements LastSeenThrottle {
  private readonly claimed: TtlCache<true>;

  constructor(private readonly intervalMs: number) {
    this.claimed = new TtlCache<true>(Math.max(1, intervalMs), Math.max(1, intervalMs), 100_000);
  }

  async due(projectId: string, userId: string): Promise<boolean> {
    if (this.intervalMs <= 0) return true;
    const key = `${projectId}:${userId}`;
    if (this.claimed.peek(key)?.fresh) return false;
    this.claimed.set(key, true);
    return true;
  }

  async release(projectId: string, userId: string): Promise<void> {
    this.claimed.delete(`${projectId}:${userId}`);
  }
}

export class RedisLastSeenThrottle implements LastSeenThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly intervalMs: number,
  ) {}

  async due(projectId: string, userId: string): Promise<boolean> {
    if (this.intervalMs <= 0) return true;
    try {
      const set = await this.redis.set(
        `${this.keyPrefix}last-seen:${projectId}:${userId}`,
        '1',
        'PX',
        this.intervalMs,
        'NX',
      );
      return set === 'OK';
    } catch {
      // Redis away: write (a `$max` more is harmless; a missed one is not what the field promises).
      return true;
    }
  }

  async release(projectId: string, userId: string): Promise<void> {
    await this.redis.del(`${this.keyPrefix}last-seen:${projectId}:${userId}`).catch(() => undefined);
  }
}
