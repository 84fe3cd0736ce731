import type { ChosenStatus, PresenceStatus } from '@parley/protocol';

/** An agent's presence changed; announced by whoever's call caused it, exactly once. */
export interface PresenceChange {
  projectId: string;
  agentId: string;
  status: PresenceStatus;
}

/** What a store call answers: the changes it caused, or that this node must restore its counts first. */
export interface PresenceAnswer {
  changes: PresenceChange[];
  /**
   * The store does not know this node (it was taken for dead, or the store lost its data): nothing
   * was done, and the node must `restore` its own sockets' counts.
   */
  unknownNode: boolean;
}

/** One agent's open sockets on this node. */
export interface LocalCount {
  projectId: string;
  agentId: string;
  count: number;
  /** The agent's choice, when it was made through this node: restored if the store lost it. */
  chosen?: ChosenStatus;
}

/** An agent announced offline whose conversations routing has not handled yet. */
export interface OfflineAgent {
  projectId: string;
  agentId: string;
  /** Identifies this transition, so that handling it cannot clear a later one. */
  mark: string;
}

/**
 * Where presence lives: which agents have sockets open on which node, what each chose, and what was
 * last announced. Every transition is decided by one atomic step (a Lua script on Redis), so that
 * exactly one node announces it, and timers that must outlive a node (the grace period) are stored,
 * not kept in a process: every node's `sweep` settles whatever is due.
 */
export interface PresenceStore {
  connect(projectId: string, agentId: string): Promise<PresenceAnswer>;
  disconnect(projectId: string, agentId: string): Promise<PresenceAnswer>;
  choose(projectId: string, agentId: string, status: ChosenStatus): Promise<PresenceAnswer>;
  /** Replaces this node's counts with `local` (after `unknownNode`, or at start). */
  restore(local: LocalCount[]): Promise<PresenceAnswer>;
  /**
   * This node is alive. Settles agents whose grace period ran out; with `judge`, also takes nodes
   * that stopped saying they are alive for dead, and their sockets for gone.
   */
  sweep(judge: boolean): Promise<PresenceAnswer>;
  /** What was last announced for the project's agents; an agent not listed is offline. */
  statuses(projectId: string): Promise<Map<string, PresenceStatus>>;
  offlinePending(): Promise<OfflineAgent[]>;
  offlineHandled(agent: OfflineAgent): Promise<void>;
  /** This node stops: its sockets are gone, and it no longer counts as alive. */
  leave(): Promise<void>;
}

/** How long an agent without sockets stays as it was, and how nodes prove they are alive. */
export interface PresenceTiming {
  graceMs: number;
  /** How often a node says it is alive and sweeps. */
  beatMs: number;
  /** A node silent this long is dead: its sockets stop counting. */
  nodeTtlMs: number;
}

/**
 * Derived from the grace period: a node beats a few times per grace period (between 250 ms and
 * 5 s) and is dead after three missed beats, never sooner than 5 s, so that a node stalled by a
 * long pause is not taken for dead (which would take its agents offline and re-queue their work).
 */
export function presenceTiming(graceMs: number): PresenceTiming {
  const beatMs = Math.min(5_000, Math.max(250, Math.floor(graceMs / 3)));
  return { graceMs, beatMs, nodeTtlMs: Math.max(5_000, 3 * beatMs) };
}
