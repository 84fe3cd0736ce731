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
 * The standing of every agent in one Redis key each, shared by all nodes: a node that missed a
 * message still reads the current version here. Live agents' keys do not expire (one small key per
 * agent); a removed agent's stays as long as its last token could live, then the database's
 * "no such agent" is read again.
 */
export class RedisStandingStore implements StandingStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly removedTtlMs: number,
  ) {}

  private key(agentId: string): string {
    return `${this.keyPrefix}agent-standing:${agentId}`;
  }

  async getMany(agentIds: string[]): Promise<(AgentStanding | undefined)[]> {
    if (agentIds.length === 0) return [];
    const values = await this.redis.mget(agentIds.map((id) => this.key(id)));
    return values.map(decode);
  }

  async raise(agentId: string, standing: AgentStanding): Promise<void> {
    const ttl = standing.removed ? String(this.removedTtlMs) : '0';
    await this.redis.eval(RAISE_SCRIPT, 1, this.key(agentId), String(standing.version), encode(standing), ttl);
  }

  async fill(agentId: string, standing: AgentStanding): Promise<void> {
    if (standing.removed) await this.redis.set(this.key(agentId), encode(standing), 'PX', this.removedTtlMs, 'NX');
    else await this.redis.set(this.key(agentId), encode(standing), 'NX');
  }
}
