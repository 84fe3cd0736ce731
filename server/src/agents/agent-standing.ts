import type { Redis } from 'ioredis';
import type { AgentRole } from '@parley/protocol';
import { TtlCache } from '../infra/ttl-cache';

/**
 * What every node must agree on before it lets an agent's token act: whether the agent still
 * exists, in which project, with which role, and the credential version its tokens must carry.
 * `removed` agents get a version above any real one, so no token ever matches it again.
 */
export interface AgentStanding {
  version: number;
  projectId: string;
  role: AgentRole;
  removed?: true;
}

/** Higher than any credential version an agent reaches, exactly representable in Lua and JS. */
export const REMOVED_VERSION = 2 ** 50;

export function removedStanding(): AgentStanding {
  return { version: REMOVED_VERSION, projectId: '', role: 'agent', removed: true };
}

/**
 * The shared copy of every agent's standing, which the database holds authoritatively. Writers
 * (the agent service, after its database write) `raise` it: a write only ever moves the version up,
 * so two changes racing each other, or a reader refilling from an older read, never bring back a
 * version that was already left. Readers `fill` a missing entry from the database, never over an
 * existing one.
 */
export interface StandingStore {
  /** One entry per id, `undefined` where the store does not know (a miss). */
  getMany(agentIds: string[]): Promise<(AgentStanding | undefined)[]>;
  raise(agentId: string, standing: AgentStanding): Promise<void>;
  fill(agentId: string, standing: AgentStanding): Promise<void>;
  /**
   * Bumped whenever the store's contents may have been replaced behind this node's back (its Redis
   * connection closed: the server may come back empty, or from an append-only file older than
   * changes the database already holds).
   */
  generation(): number;
  /**
   * The contents at `generation` were brought up to the database (every pending sync applied,
   * see StandingSync): `getMany` answers from them again. Until then it refuses, and the database
   * answers every check.
   */
  trust(generation: number): void;
}

/** A store whose contents are not yet known to match the database: ask the database instead. */
export class UntrustedStoreError extends Error {
  constructor() {
    super('The shared standings are not yet checked against the database');
  }
}

/**
 * Without REDIS_URL the server is one node, and its memory is the only copy there is: entries are
 * dropped oldest first beyond a bound and read again from the database.
 */
export class MemoryStandingStore implements StandingStore {
  private readonly entries = new TtlCache<AgentStanding>(Infinity, Infinity, 50_000);

  async getMany(agentIds: string[]): Promise<(AgentStanding | undefined)[]> {
    return agentIds.map((id) => this.entries.peek(id)?.value);
  }

  async raise(agentId: string, standing: AgentStanding): Promise<void> {
    const current = this.entries.peek(agentId)?.value;
    if (!current || current.version < standing.version) this.entries.set(agentId, standing);
  }

  async fill(agentId: string, standing: AgentStanding): Promise<void> {
    if (!this.entries.peek(agentId)) this.entries.set(agentId, standing);
  }

  /** This process's memory is never replaced behind its back. */
  generation(): number {
    return 0;
  }

  trust(): void {}
}

/** SET only when the stored version is lower (or nothing is stored): versions never go back. */
const RAISE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded.v) and tonumber(decoded.v) >= tonumber(ARGV[1]) then
    return 0
  end
end
if ARGV[3] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
`;

interface StoredStanding {
  v: number;
  p: string;
  r: AgentRole;
  x?: 1;
}

function encode(standing: AgentStanding): string {
  const stored: StoredStanding = { v: standing.version, p: standing.projectId, r: standing.role };
  if (standing.removed) stored.x = 1;
  return JSON.stringify(stored);
}

function decode(raw: string | null): AgentStanding | undefined {
  if (raw === null) return undefined;
  try {
    const stored = JSON.parse(raw) as Partial<StoredStanding>;
    if (typeof stored.v !== 'number' || typeof stored.p !== 'string') return undefined;
    if (stored.r !== 'owner' && stored.r !== 'agent') return undefined;
    return {
      version: stored.v,
      projectId: stored.p,
      role: stored.r,
      ...(stored.x ? { removed: true as const } : {}),
    };
  } catch {
    // Not ours, or damaged: the database answers instead.
    return undefined;
  }
}

/**
 * A live agent's key expires after this long and is read again from the database: the bound on how
 * long a stale copy can survive where nothing else catches it (a write Redis acknowledged but had
 * not yet written to its append-only file when it died, restored older after the restart).
 */
export const LIVE_STANDING_TTL_MS = 10 * 60_000;

/**
 * The standing of every agent in one Redis key each, shared by all nodes: a node that missed a
 * message still reads the current version here. Live agents' keys expire after
 * LIVE_STANDING_TTL_MS (then refilled from the database on the next check); a removed agent's stays
 * as long as its last token could live, then the database's "no such agent" is read again.
 *
 * After its connection closed, this node does not read from Redis until the standings pending in
 * the database were applied again (`trust`): the Redis that comes back may be one restored from an
 * append-only file older than changes made while it was down.
 */
export class RedisStandingStore implements StandingStore {
  private currentGeneration = 0;
  private trustedGeneration = -1;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly removedTtlMs: number,
    private readonly liveTtlMs: number = LIVE_STANDING_TTL_MS,
  ) {
    // 'close' comes before any reconnection, so no reply from the next server is read under the
    // old generation.
    redis.on('close', () => {
      this.currentGeneration += 1;
    });
  }

  generation(): number {
    return this.currentGeneration;
  }

  trust(generation: number): void {
    if (generation === this.currentGeneration) this.trustedGeneration = generation;
  }

  private key(agentId: string): string {
    return `${this.keyPrefix}agent-standing:${agentId}`;
  }

  async getMany(agentIds: string[]): Promise<(AgentStanding | undefined)[]> {
    if (agentIds.length === 0) return [];
    const generation = this.currentGeneration;
    if (this.trustedGeneration !== generation) throw new UntrustedStoreError();
    const values = await this.redis.mget(agentIds.map((id) => this.key(id)));
    // Answered by a server this node has not checked yet (the connection turned over meanwhile).
    if (this.currentGeneration !== generation) throw new UntrustedStoreError();
    return values.map(decode);
  }

  async raise(agentId: string, standing: AgentStanding): Promise<void> {
    const ttl = String(standing.removed ? this.removedTtlMs : this.liveTtlMs);
    await this.redis.eval(RAISE_SCRIPT, 1, this.key(agentId), String(standing.version), encode(standing), ttl);
  }

  async fill(agentId: string, standing: AgentStanding): Promise<void> {
    // Only into a store this node has checked: a fill must not land in one it has not.
    const generation = this.currentGeneration;
    if (this.trustedGeneration !== generation) return;
    const ttl = standing.removed ? this.removedTtlMs : this.liveTtlMs;
    await this.redis.set(this.key(agentId), encode(standing), 'PX', ttl, 'NX');
  }
}
