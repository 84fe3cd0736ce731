import type { Logger } from './logger';

/** Milliseconds of a monotonic clock: for durations on this node, never stepped by a clock jump. */
export function monotonicMs(): number {
  return performance.now();
}

/** How far this node's wall clock may be from the cluster's before it is reported. */
const SKEW_WARNING_MS = 1_000;
/** How often the clock is set again from the reference (the monotonic clock drifts by ppm). */
const SYNC_INTERVAL_MS = 30_000;
/** A reading that took longer is off by too much (up to half of it) to replace a good one. */
const SYNC_MAX_ROUND_TRIP_MS = 1_000;

/**
 * The time every node agrees on, for whatever one node writes and another judges: token `iat` and
 * `exp`, lease expiries, grace periods. A node's wall clock can jump (an NTP step, a VM resumed, a
 * hand-set clock): a node hours ahead would mint tokens that live hours too long elsewhere, refuse
 * every token the others issued, and take over leases that are still held; one hours behind,
 * the reverse.
 *
 * So with a database server of its own (MONGODB_URI, which several nodes share) the clock is the
 * database server's: read every 30 s (taken as of half the round trip), and advanced in between by
 * the monotonic clock, which wall-clock jumps never touch. Every node then counts from the same
 * clock whatever its own says, and one that started with a wrong clock is corrected. Until the
 * first reading succeeds, and without such a database (the embedded server runs in this very
 * process, on this clock, and there is no other node to disagree with), it is the wall clock.
 */
export class Clock {
  /** Set by the first successful sync: the reference's time at `baseMono`. */
  private baseWall: number | undefined;
  private baseMono = 0;
  private timer: NodeJS.Timeout | undefined;

  /** Milliseconds since the epoch. */
  now(): number {
    if (this.baseWall === undefined) return Date.now();
    return this.baseWall + (monotonicMs() - this.baseMono);
  }

  date(): Date {
    return new Date(this.now());
  }

  /** Whole seconds since the epoch, as JWTs count. */
  seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /**
   * Sets the clock from `reference` (a clock read remotely), taking its answer as of halfway
   * through the round trip; a slow reading is kept only when there is no other. Answers how far
   * this node's wall clock is ahead of it.
   */
  async sync(reference: () => Promise<Date>): Promise<number> {
    const sent = monotonicMs();
    const remote = await reference();
    const received = monotonicMs();
    if (received - sent > SYNC_MAX_ROUND_TRIP_MS && this.baseWall !== undefined) return Date.now() - this.now();
    this.baseWall = remote.getTime() + (received - sent) / 2;
    this.baseMono = received;
    return Date.now() - this.now();
  }

  /** Syncs now (a failure keeps the current base) and then every SYNC_INTERVAL_MS. */
  async follow(reference: () => Promise<Date>, logger: Logger): Promise<void> {
    let warned = false;
    const syncOnce = async () => {
      try {
        const skew = await this.sync(reference);
        const off = Math.abs(skew) > SKEW_WARNING_MS;
        if (off && !warned) {
          logger.warn(
            { skewMs: Math.round(skew) },
            "this node's clock is off from the database's; using the database's",
          );
        }
        warned = off;
      } catch (error) {
        logger.debug({ err: error }, 'clock not synced: database unavailable');
      }
    };
    await syncOnce();
    this.timer = setInterval(() => void syncOnce(), SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
