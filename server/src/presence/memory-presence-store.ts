import type { ChosenStatus, PresenceStatus } from '@parley/protocol';
import type { LocalCount, OfflineAgent, PresenceAnswer, PresenceChange, PresenceStore } from './presence-store';

interface Record {
  projectId: string;
  count: number;
  chosen: ChosenStatus;
  published?: PresenceStatus;
  /** When the last socket went; absent while one is open. */
  since?: number;
}

/**
 * Presence of a single node (no `REDIS_URL`): the same rules as the Redis store, in this process's
 * memory. There is no other node to die, and a restart starts everyone offline.
 */
export class MemoryPresenceStore implements PresenceStore {
  private readonly agents = new Map<string, Record>();
  private readonly offline = new Map<string, OfflineAgent>();
  private marks = 0;

  constructor(
    private readonly graceMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async connect(projectId: string, agentId: string): Promise<PresenceAnswer> {
    const record = this.record(projectId, agentId);
    record.count += 1;
    return this.answer([this.settle(agentId, record)]);
  }

  async disconnect(projectId: string, agentId: string): Promise<PresenceAnswer> {
    const record = this.record(projectId, agentId);
    record.count = Math.max(0, record.count - 1);
    return this.answer([this.settle(agentId, record)]);
  }

  async choose(projectId: string, agentId: string, status: ChosenStatus): Promise<PresenceAnswer> {
    const record = this.record(projectId, agentId);
    record.chosen = status;
    return this.answer([this.settle(agentId, record)]);
  }

  async restore(local: LocalCount[]): Promise<PresenceAnswer> {
    const counts = new Map(local.map((l) => [l.agentId, l]));
    for (const { projectId, agentId } of local) this.record(projectId, agentId);
    return this.answer(
      [...this.agents].map(([agentId, record]) => {
        record.count = counts.get(agentId)?.count ?? 0;
        return this.settle(agentId, record);
      }),
    );
  }

  async sweep(): Promise<PresenceAnswer> {
    const due = [...this.agents].filter(([, r]) => r.since !== undefined && r.published !== 'offline');
    return this.answer(due.map(([agentId, record]) => this.settle(agentId, record)));
  }

  async statuses(projectId: string): Promise<Map<string, PresenceStatus>> {
    const statuses = new Map<string, PresenceStatus>();
    for (const [agentId, record] of this.agents) {
      if (record.projectId === projectId && record.published) statuses.set(agentId, record.published);
    }
    return statuses;
  }

  async offlinePending(): Promise<OfflineAgent[]> {
    return [...this.offline.values()];
  }

  async offlineHandled(agent: OfflineAgent): Promise<void> {
    if (this.offline.get(agent.agentId)?.mark === agent.mark) this.offline.delete(agent.agentId);
  }

  async leave(): Promise<void> {
    // The process goes with its memory.
  }

  private record(projectId: string, agentId: string): Record {
    let record = this.agents.get(agentId);
    if (!record) {
      record = { projectId, count: 0, chosen: 'online' };
      this.agents.set(agentId, record);
    }
    return record;
  }

  /** The agent's status now, announced if it differs from the last one announced. */
  private settle(agentId: string, record: Record): PresenceChange | undefined {
    let status: PresenceStatus | undefined;
    if (record.count > 0) {
      delete record.since;
      status = record.chosen;
    } else {
      record.since ??= this.now();
      if (this.now() - record.since >= this.graceMs) status = 'offline';
    }
    if (status === undefined || status === record.published) return undefined;
    record.published = status;
    if (status === 'offline') {
      this.offline.set(agentId, { projectId: record.projectId, agentId, mark: String(++this.marks) });
    } else {
      this.offline.delete(agentId);
    }
    return { projectId: record.projectId, agentId, status };
  }

  private answer(changes: (PresenceChange | undefined)[]): PresenceAnswer {
    return { changes: changes.filter((c): c is PresenceChange => c !== undefined), unknownNode: false };
  }
}
