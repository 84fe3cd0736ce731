import type { AgentPresence, ChosenStatus, PresenceStatus } from '@parley/protocol';
import { AppError } from '../errors';
import type { EventBus } from '../infra/event-bus';
import type { Logger } from '../infra/logger';
import type { LocalCount, OfflineAgent, PresenceAnswer, PresenceStore, PresenceTiming } from './presence-store';

/**
 * Agents' presence: this node's sockets per agent, kept in the store (Redis across nodes, else
 * memory), and every change the store decides announced as `agent.presence` on the bus. Knows
 * nothing of sockets: the agent namespace says when one opens or closes.
 *
 * A store call that fails (Redis away) leaves this node's counts to be restored on the next beat
 * that works, so presence heals once Redis answers again.
 */
export class PresenceService {
  private readonly local = new Map<string, LocalCount>();
  private timer: NodeJS.Timeout | undefined;
  /** Since when this node's beats have reached the store without a break; unset while failing. */
  private beatingSince: number | undefined;
  private mustRestore = true;
  /** One call at a time, in order: a disconnect never overtakes the connect it follows. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: PresenceStore,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly timing: PresenceTiming,
  ) {}

  start(): void {
    if (this.timer) return;
    void this.beat();
    this.timer = setInterval(() => void this.beat(), this.timing.beatMs);
    this.timer.unref();
  }

  /** After this node's sockets were closed: it leaves the store, so its agents' grace starts now. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.enqueue(() => this.store.leave()).catch(() => undefined);
  }

  connected(projectId: string, agentId: string): void {
    const entry = this.local.get(agentId) ?? { projectId, agentId, count: 0 };
    entry.count += 1;
    this.local.set(agentId, entry);
    void this.apply(() => this.store.connect(projectId, agentId)).catch(() => undefined);
  }

  disconnected(projectId: string, agentId: string): void {
    const entry = this.local.get(agentId);
    if (entry) {
      entry.count -= 1;
      if (entry.count <= 0) this.local.delete(agentId);
    }
    void this.apply(() => this.store.disconnect(projectId, agentId)).catch(() => undefined);
  }

  /** The agent's own choice; answered with its presence as it now stands. */
  async choose(projectId: string, agentId: string, status: ChosenStatus): Promise<AgentPresence> {
    // Kept with this node's counts too, so that a store that lost its data gets it back.
    const entry = this.local.get(agentId);
    if (entry) entry.chosen = status;
    try {
      await this.apply(() => this.store.choose(projectId, agentId, status));
    } catch {
      throw new AppError('UNAVAILABLE', 'Presence cannot be changed right now; try again');
    }
    // The choice is made from one of the agent's own sockets, so the agent is connected: it holds.
    return { agentId, status };
  }

  /** What was last announced for the project's agents; an agent not listed is offline. */
  async statuses(projectId: string): Promise<Map<string, PresenceStatus>> {
    try {
      return await this.store.statuses(projectId);
    } catch {
      // The store is Redis, away for now: a client should try again, not see an internal error.
      throw new AppError('UNAVAILABLE', 'Presence cannot be read right now; try again');
    }
  }

  /** Every agent of `agentIds` with its status. */
  async list(projectId: string, agentIds: string[]): Promise<AgentPresence[]> {
    const statuses = await this.statuses(projectId);
    return agentIds.map((agentId) => ({ agentId, status: statuses.get(agentId) ?? 'offline' }));
  }

  offlinePending(): Promise<OfflineAgent[]> {
    return this.store.offlinePending();
  }

  offlineHandled(agent: OfflineAgent): Promise<void> {
    return this.store.offlineHandled(agent);
  }

  /** Says this node is alive and settles what is due; judges other nodes once it has been alive a while. */
  private async beat(): Promise<void> {
    const now = Date.now();
    const judge = this.beatingSince !== undefined && now - this.beatingSince >= this.timing.nodeTtlMs;
    try {
      if (this.mustRestore) await this.apply(() => this.restore());
      await this.apply(() => this.store.sweep(judge));
      this.beatingSince ??= now;
    } catch (error) {
      // Until beats reach the store for a whole node TTL again, other nodes' silence proves nothing.
      this.beatingSince = undefined;
      this.logger.debug({ err: error }, 'presence beat failed');
    }
  }

  /** Runs a store call in line, restores this node's counts when the store asks, and announces changes. */
  private apply(call: () => Promise<PresenceAnswer>): Promise<void> {
    return this.enqueue(async () => {
      let answer: PresenceAnswer;
      try {
        answer = await call();
        if (answer.unknownNode) answer = await this.restore();
      } catch (error) {
        this.mustRestore = true;
        this.logger.debug({ err: error }, 'presence store unavailable');
        throw error;
      }
      for (const change of answer.changes) await this.bus.publish('agent.presence', change);
    });
  }

  /** Replaces this node's counts in the store with its own: what a failed call may have left wrong. */
  private async restore(): Promise<PresenceAnswer> {
    const answer = await this.store.restore([...this.local.values()]);
    this.mustRestore = false;
    return answer;
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
