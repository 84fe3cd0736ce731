import type { EventBus } from '../infra/event-bus';
import type { Logger } from '../infra/logger';
import type { ConversationModel } from './conversation-model';
import type { ConversationWorkflow } from './conversation-workflow';
import type { StatusNotes } from './status-notes';

/** Where the sweeper reads the time and sets its timer; tests drive their own. */
export interface SweepClock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemSweepClock: SweepClock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => {
    const timer = setTimeout(run, ms);
    // A shutdown does not wait for the next sweep.
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Snoozes woken per query; a sweep queries again while it finds a full batch. */
const WAKE_BATCH = 100;

/**
 * The workflow's timers, kept in the database so that they outlive any node: every node sweeps,
 * at least every `intervalMs`, for snoozes that are due (and wakes them: one atomic write each, so
 * two nodes never wake one twice) and for status notes a dead node left unwritten. Between sweeps
 * a node sleeps until the earliest snooze it knows of (the next one due in the database, or one
 * snoozed through this node), so a snooze ends on time on a live node and at most `intervalMs`
 * late when the node that snoozed it died after the other nodes' last sweep.
 */
export class WorkflowSweeper {
  private timer: unknown;
  private timerAt = Infinity;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private unsubscribe: () => void = () => undefined;

  constructor(
    private readonly conversations: ConversationModel,
    private readonly workflow: ConversationWorkflow,
    private readonly notes: StatusNotes,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly clock: SweepClock = systemSweepClock,
    /** Told after each sweep (a metric: tests wait for sweeps instead of sleeping). */
    private readonly onSwept: () => void = () => undefined,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = this.bus.subscribe('conversation.updated', ({ conversation }) => {
      if (conversation.status === 'snoozed' && conversation.snoozedUntil)
        this.wakeAt(Date.parse(conversation.snoozedUntil));
    });
    this.schedule(this.clock.now());
  }

  /** Stops the timer; resolves once a sweep in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    this.clearTimer();
    await this.running;
  }

  /**
   * Sweeps now (unless one is running: then once more right after it); resolves when no sweep is
   * left to run and the next one is planned.
   */
  sweepNow(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.clearTimer();
    const run = async (): Promise<number> => {
      let nextAt: number;
      do {
        this.again = false;
        nextAt = await this.sweep();
      } while (this.again && !this.stopped);
      return nextAt;
    };
    this.running = run().then((nextAt) => {
      this.running = undefined;
      if (!this.stopped) this.schedule(nextAt);
    });
    return this.running;
  }

  /** A snooze this node knows ends at `at`: be awake then, if that is before the next planned sweep. */
  wakeAt(at: number): void {
    if (!this.stopped) this.schedule(at);
  }

  /** One pass; never throws (a failure is logged and the next pass tries again). Returns when to sweep next. */
  private async sweep(): Promise<number> {
    let nextDue: number | undefined;
    try {
      await this.wakeDue();
      await this.notes.finishStale(this.clock.now());
      nextDue = await this.nextDue();
    } catch (error) {
      this.logger.warn({ err: error }, 'workflow sweep failed; the next one tries again');
    }
    this.onSwept();
    const next = this.clock.now() + this.intervalMs;
    return nextDue === undefined ? next : Math.min(next, nextDue);
  }

  private async wakeDue(): Promise<void> {
    for (;;) {
      const due = await this.conversations
        .find({ snoozedUntil: { $lte: new Date(this.clock.now()) }, status: 'snoozed' })
        .sort({ snoozedUntil: 1 })
        .select({ _id: 1, projectId: 1 })
        .limit(WAKE_BATCH)
        .lean<{ _id: string; projectId: string }[]>()
        .exec();
      for (const { _id, projectId } of due) await this.workflow.wake(_id, projectId);
      if (due.length < WAKE_BATCH) return;
    }
  }

  /** When the next snooze is due, if any is. */
  private async nextDue(): Promise<number | undefined> {
    const next = await this.conversations
      .findOne({ snoozedUntil: { $gt: new Date(this.clock.now()) }, status: 'snoozed' })
      .sort({ snoozedUntil: 1 })
      .select({ snoozedUntil: 1 })
      .lean<{ snoozedUntil?: Date }>()
      .exec();
    return next?.snoozedUntil?.getTime();
  }

  /** The timer fires at `at` unless it already fires sooner. */
  private schedule(at: number): void {
    if (this.running) {
      // The sweep in progress plans its successor; one due before that is seen by a pass right after.
      if (at <= this.clock.now() + this.intervalMs) this.again = true;
      return;
    }
    if (at >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        void this.sweepNow();
      },
      Math.max(0, at - this.clock.now()),
    );
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}
