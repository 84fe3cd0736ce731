import type { AgentPresence, PresenceStatus } from '@parley/protocol';

/**
 * The presence of a project's agents as the console shows it: loaded over REST, then kept live by
 * `agent.presence` pushes. A push that arrives while a load is in flight is newer than what the
 * load answers, so it is applied again over the loaded list.
 */
export class PresenceBook {
  private readonly statuses = new Map<string, PresenceStatus>();
  /** Pushes received during the load in flight, if any. */
  private during: AgentPresence[] | undefined;

  constructor(
    private readonly load: () => Promise<AgentPresence[]>,
    private readonly onChange: (presence: AgentPresence) => void,
  ) {}

  /** An agent's status; `offline` for an agent the book has not heard of. */
  of(agentId: string): PresenceStatus {
    return this.statuses.get(agentId) ?? 'offline';
  }

  all(): AgentPresence[] {
    return [...this.statuses].map(([agentId, status]) => ({ agentId, status }));
  }

  /** A push: applied at once (and again after a load in flight). */
  apply(presence: AgentPresence): void {
    this.during?.push(presence);
    this.set(presence);
  }

  /** Loads every agent's status; what changed is announced. */
  async refresh(): Promise<AgentPresence[]> {
    const during: AgentPresence[] = [];
    this.during = during;
    try {
      const loaded = await this.load();
      for (const presence of [...loaded, ...during]) this.set(presence);
      return this.all();
    } finally {
      if (this.during === during) this.during = undefined;
    }
  }

  clear(): void {
    this.statuses.clear();
  }

  private set({ agentId, status }: AgentPresence): void {
    if (this.statuses.get(agentId) === status) return;
    this.statuses.set(agentId, status);
    this.onChange({ agentId, status });
  }
}
