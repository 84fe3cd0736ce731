import { performance } from 'node:perf_hooks';

/** How often the event loop's utilization is sampled. */
const SAMPLE_MS = 100;
/** Above this share of the last sample spent running code (not waiting), the node is busy. */
const BUSY_UTILIZATION = 0.7;

/**
 * Whether this node is busy with what people wait for: foreground work (messages) was done in the
 * last ~200 ms, and either it queued (sends waiting for the batches in flight: the database or this
 * node is its bottleneck) or the event loop spent most of the last ~100 ms running code rather
 * than waiting for I/O. Background work that can wait (webhook deliveries) asks it, so that it gives way to
 * messages when the CPU is short, and runs at full speed otherwise (also when it is itself what
 * keeps the loop busy: with no foreground work the node is never busy). Cheap: one timer, and a
 * counter the message writer bumps.
 */
export class LoadGauge {
  private timer: NodeJS.Timeout | undefined;
  private last = performance.eventLoopUtilization();
  private utilization = 0;
  /** Foreground work noted since the last sample, and in the one before. */
  private foregroundNow = 0;
  private foregroundBefore = 0;
  /** Foreground work that found more waiting behind it, since the last sample and in the one before. */
  private backlogNow = 0;
  private backlogBefore = 0;

  start(): void {
    this.timer ??= setInterval(() => {
      const now = performance.eventLoopUtilization();
      this.utilization = performance.eventLoopUtilization(now, this.last).utilization;
      this.last = now;
      this.foregroundBefore = this.foregroundNow;
      this.foregroundNow = 0;
      this.backlogBefore = this.backlogNow;
      this.backlogNow = 0;
    }, SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The share of the last sample the loop was running code (0 to 1). */
  get current(): number {
    return this.utilization;
  }

  /** Foreground work is being done (a batch of messages written), with `waiting` more queued behind it. */
  foreground(waiting = 0): void {
    this.foregroundNow++;
    if (waiting > 0) this.backlogNow++;
  }

  /**
   * Messages are being written, and either they queue (the database, or this node, is their
   * bottleneck) or the loop has little time to spare.
   */
  busy(): boolean {
    if (this.foregroundNow + this.foregroundBefore === 0) return false;
    return this.backlogNow + this.backlogBefore > 0 || this.utilization >= BUSY_UTILIZATION;
  }
}

/** Never busy (unit tests, tools). */
export const IDLE_GAUGE: Pick<LoadGauge, 'busy' | 'foreground'> = { busy: () => false, foreground: () => undefined };
