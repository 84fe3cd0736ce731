import { randomUUID } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';
import type { Clock } from '../infra/clock';
import type { Logger } from '../infra/logger';
import type { AgentDoc, AgentModel } from './agent-model';
import { removedStanding, type AgentStanding, type StandingStore } from './agent-standing';

/**
 * An agent whose standing changed in the database and may not be in the shared store yet. Written
 * before the change itself, removed once the store took the standing the database then held: a
 * change is never stored without a trace that the store must catch up.
 */
interface PendingStandingDoc {
  _id: string;
  /** Which marking this is, so that settling one never clears a later change's mark. */
  nonce: string;
  markedAt: Date;
}

export type PendingStandingModel = Model<PendingStandingDoc>;

const pendingSchema = new Schema<PendingStandingDoc>(
  {
    _id: { type: String, required: true },
    nonce: { type: String, required: true },
    markedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export function registerPendingStandingModel(connection: Connection): PendingStandingModel {
  return connection.model<PendingStandingDoc>('PendingStandingSync', pendingSchema, 'pendingstandingsyncs');
}

export function standingOf(doc: Pick<AgentDoc, 'projectId' | 'role' | 'credentialVersion'>): AgentStanding {
  return { version: doc.credentialVersion ?? 0, projectId: doc.projectId, role: doc.role };
}

/** How often every node looks for pending standings (and, after a reconnect, retries its first pass). */
const PASS_INTERVAL_MS = 1_000;
const PASS_BATCH = 500;
/**
 * A pass applies every mark but clears only those older than this: a younger one may announce a
 * change not yet written (marked, then written), which this pass's read of the agent did not see.
 * Its writer clears it once the store took it, or the next pass does.
 */
const MARK_SETTLE_MS = 5_000;

/**
 * The database is the authority on agents' standings; the shared store (Redis) a copy every node
 * reads. This keeps the copy from going wrong for good when Redis is down during a change, or comes
 * back from an append-only file older than the change:
 *
 * - a change marks the agent pending in the database before writing it, and clears the mark only
 *   after the store took the new standing (`mark`, then `settle`);
 * - every node applies pending standings to the store, read again from the database, every second
 *   (`runPass`), so a change the store missed is in it as soon as Redis answers again;
 * - a node whose Redis connection closed does not read the store again before it has run one
 *   complete pass on the new connection (`StandingStore.trust`): until then the database answers.
 */
export class StandingSync {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly pending: PendingStandingModel,
    private readonly agents: AgentModel,
    private readonly store: StandingStore,
    /** Marks are written by one node and judged settled by another: on the cluster's clock. */
    private readonly clock: Clock,
    private readonly logger?: Logger,
  ) {}

  /** Before a change to the agent's standing is written to the database. */
  async mark(agentId: string): Promise<string> {
    const nonce = randomUUID();
    await this.pending
      .updateOne({ _id: agentId }, { $set: { nonce, markedAt: this.clock.date() } }, { upsert: true })
      .exec();
    return nonce;
  }

  /**
   * After the change was written: the store takes `standing` (what the database now holds) and the
   * mark goes. Answers false when the store could not take it; the mark stays, and every node's
   * pass applies it once the store answers again. Every node refuses to read a store it lost the
   * connection to until that pass ran, so the change is enforced either way.
   */
  async settle(agentId: string, nonce: string, standing: AgentStanding): Promise<boolean> {
    try {
      await this.store.raise(agentId, standing);
    } catch {
      // Marked again after the write, so that no pass that read the agent before it clears it.
      await this.mark(agentId);
      return false;
    }
    await this.pending.deleteOne({ _id: agentId, nonce }).exec();
    return true;
  }

  /** Applies every pending standing from the database, then trusts the store it applied them to. */
  runPass(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  start(): void {
    const tick = () => {
      this.runPass().then(
        () => undefined,
        (error: unknown) => this.logger?.debug({ err: error }, 'pending agent standings not applied yet'),
      );
    };
    tick();
    this.timer = setInterval(tick, PASS_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async pass(): Promise<void> {
    const generation = this.store.generation();
    let after = '';
    for (;;) {
      const marks = await this.pending
        .find({ _id: { $gt: after } })
        .sort({ _id: 1 })
        .limit(PASS_BATCH)
        .lean<PendingStandingDoc[]>()
        .exec();
      if (marks.length > 0) await this.apply(marks);
      if (marks.length < PASS_BATCH) break;
      after = marks[marks.length - 1]?._id ?? after;
    }
    this.store.trust(generation);
  }

  private async apply(marks: PendingStandingDoc[]): Promise<void> {
    const ids = marks.map((mark) => mark._id);
    const docs = await this.agents
      .find({ _id: { $in: ids } }, { projectId: 1, role: 1, credentialVersion: 1 })
      .lean<AgentDoc[]>()
      .exec();
    const found = new Map(docs.map((doc) => [doc._id, standingOf(doc)]));
    const settledBefore = this.clock.now() - MARK_SETTLE_MS;
    for (const mark of marks) {
      await this.store.raise(mark._id, found.get(mark._id) ?? removedStanding());
      if (mark.markedAt.getTime() < settledBefore) {
        await this.pending.deleteOne({ _id: mark._id, nonce: mark.nonce }).exec();
      }
    }
  }
}
