import type { Clock } from '../infra/clock';

/** setTimeout fires at once for delays over 2^31-1 ms (~24.8 days); visitor tokens live 90 days. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Calls `onExpire` when `expiresAt` passes, however far away it is. `reset` moves the deadline (a
 * renewed token); `clear` cancels it (the socket went away).
 */
export class ExpiryTimer {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private expiresAt: Date,
    /** `expiresAt` is a token's `exp`: on the cluster's clock, not this node's wall clock. */
    private readonly clock: Clock,
    /** Gets the deadline that passed: the latest one `reset` set. */
    private readonly onExpire: (expiresAt: Date) => void,
  ) {
    this.arm();
  }

  reset(expiresAt: Date): void {
    this.expiresAt = expiresAt;
    this.arm();
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.clear();
    const delay = this.expiresAt.getTime() - this.clock.now();
    if (delay <= 0) {
      this.onExpire(this.expiresAt);
      return;
    }
    this.timer = setTimeout(
      () => (delay > MAX_TIMEOUT_MS ? this.arm() : this.onExpire(this.expiresAt)),
      Math.min(delay, MAX_TIMEOUT_MS),
    );
    // A pending expiry must not keep the process alive at shutdown.
    this.timer.unref();
  }
}
