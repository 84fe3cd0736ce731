import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ChosenStatus, PresenceStatus } from '@parley/protocol';
import type {
  LocalCount,
  OfflineAgent,
  PresenceAnswer,
  PresenceChange,
  PresenceStore,
  PresenceTiming,
} from './presence-store';

/**
 * Shared by every script. Keys under `P` (the deployment's prefix and `presence:`):
 * - `nodes`: node id -> its last beat (ms); a node absent from it is dead or unknown;
 * - `node:{node}`: the agents with sockets on that node;
 * - `conn:{agent}`: node id -> that agent's open sockets there;
 * - `agent:{agent}`: `project`, `chosen` (online/away), `published` (last announced), `since` (when
 *   its last socket went);
 * - `project:{project}`: agent id -> last announced status (what routing and the REST list read);
 * - `due`: agents without sockets, scored by when their grace period ends;
 * - `offline`: agent id -> mark of an offline announcement routing has not handled yet.
 * Time is Redis's own (TIME), so nodes with skewed clocks agree on every deadline.
 */
const PRELUDE = `
local P = ARGV[1]
local GRACE = tonumber(ARGV[2])
local NODE = ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local changes = {}

local function knownNode(node)
  return redis.call('HEXISTS', P .. 'nodes', node) == 1
end

local function liveCount(agent)
  local key = P .. 'conn:' .. agent
  local fields = redis.call('HGETALL', key)
  local total = 0
  for i = 1, #fields, 2 do
    if knownNode(fields[i]) then
      total = total + tonumber(fields[i + 1])
    else
      redis.call('HDEL', key, fields[i])
    end
  end
  return total
end

local function announce(agent, project, status)
  local rec = P .. 'agent:' .. agent
  if redis.call('HGET', rec, 'published') == status then return end
  redis.call('HSET', rec, 'published', status)
  redis.call('HSET', P .. 'project:' .. project, agent, status)
  if status == 'offline' then
    redis.call('HSET', P .. 'offline', agent, tostring(now))
  else
    redis.call('HDEL', P .. 'offline', agent)
  end
  table.insert(changes, project)
  table.insert(changes, agent)
  table.insert(changes, status)
end

-- The agent's status from its live sockets, its choice and its grace period; announced on change.
-- hint: when its sockets went, if known better than "now" (the last beat of a node that died).
local function settle(agent, hint)
  local rec = P .. 'agent:' .. agent
  local project = redis.call('HGET', rec, 'project')
  if not project then return end
  if liveCount(agent) > 0 then
    redis.call('HDEL', rec, 'since')
    redis.call('ZREM', P .. 'due', agent)
    announce(agent, project, redis.call('HGET', rec, 'chosen') or 'online')
    return
  end
  local since = tonumber(redis.call('HGET', rec, 'since') or '')
  if not since then
    since = hint or now
    redis.call('HSET', rec, 'since', since)
  end
  if now - since >= GRACE then
    redis.call('ZREM', P .. 'due', agent)
    announce(agent, project, 'offline')
  else
    redis.call('ZADD', P .. 'due', since + GRACE, agent)
  end
end

local function addSockets(agent, project, delta)
  redis.call('HSET', P .. 'agent:' .. agent, 'project', project)
  local left = redis.call('HINCRBY', P .. 'conn:' .. agent, NODE, delta)
  if left <= 0 then
    redis.call('HDEL', P .. 'conn:' .. agent, NODE)
    redis.call('SREM', P .. 'node:' .. NODE, agent)
  else
    redis.call('SADD', P .. 'node:' .. NODE, agent)
  end
end
`;

/** ARGV[4] project, ARGV[5] agent, ARGV[6] +1 or -1. */
const CHANGE_SOCKETS = `${PRELUDE}
if not knownNode(NODE) then return 'unknown' end
addSockets(ARGV[5], ARGV[4], tonumber(ARGV[6]))
settle(ARGV[5])
return changes
`;

/** ARGV[4] project, ARGV[5] agent, ARGV[6] online or away. */
const CHOOSE = `${PRELUDE}
redis.call('HSET', P .. 'agent:' .. ARGV[5], 'project', ARGV[4], 'chosen', ARGV[6])
settle(ARGV[5])
return changes
`;

/**
 * ARGV[4..]: project, agent, count and choice ('' if unknown here) of each agent with sockets on
 * this node. A choice is written only where the store has none (it lost its data): a choice the
 * store holds may be newer, made through another node.
 */
const RESTORE = `${PRELUDE}
redis.call('HSET', P .. 'nodes', NODE, now)
local kept = {}
for i = 4, #ARGV, 4 do kept[ARGV[i + 1]] = true end
for _, agent in ipairs(redis.call('SMEMBERS', P .. 'node:' .. NODE)) do
  if not kept[agent] then
    redis.call('HDEL', P .. 'conn:' .. agent, NODE)
    redis.call('SREM', P .. 'node:' .. NODE, agent)
    settle(agent)
  end
end
for i = 4, #ARGV, 4 do
  local agent = ARGV[i + 1]
  redis.call('HSET', P .. 'agent:' .. agent, 'project', ARGV[i])
  if ARGV[i + 3] ~= '' then redis.call('HSETNX', P .. 'agent:' .. agent, 'chosen', ARGV[i + 3]) end
  redis.call('HSET', P .. 'conn:' .. agent, NODE, ARGV[i + 2])
  redis.call('SADD', P .. 'node:' .. NODE, agent)
  settle(agent)
end
return changes
`;

/** ARGV[4] node TTL (ms), ARGV[5] '1' to judge other nodes. */
const SWEEP = `${PRELUDE}
if not knownNode(NODE) then return 'unknown' end
redis.call('HSET', P .. 'nodes', NODE, now)
if ARGV[5] == '1' then
  local nodes = redis.call('HGETALL', P .. 'nodes')
  for i = 1, #nodes, 2 do
    local node, beat = nodes[i], tonumber(nodes[i + 1])
    if node ~= NODE and now - beat > tonumber(ARGV[4]) then
      redis.call('HDEL', P .. 'nodes', node)
      for _, agent in ipairs(redis.call('SMEMBERS', P .. 'node:' .. node)) do settle(agent, beat) end
      redis.call('DEL', P .. 'node:' .. node)
    end
  end
end
for _, agent in ipairs(redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', now, 'LIMIT', 0, 500)) do settle(agent) end
return changes
`;

/** This node leaves: its sockets are gone now (their agents' grace periods start). */
const LEAVE = `${PRELUDE}
redis.call('HDEL', P .. 'nodes', NODE)
for _, agent in ipairs(redis.call('SMEMBERS', P .. 'node:' .. NODE)) do settle(agent) end
redis.call('DEL', P .. 'node:' .. NODE)
return changes
`;

const OFFLINE_PENDING = `
local P = ARGV[1]
local out = {}
local pending = redis.call('HGETALL', P .. 'offline')
for i = 1, #pending, 2 do
  local project = redis.call('HGET', P .. 'agent:' .. pending[i], 'project')
  if project then
    table.insert(out, project)
    table.insert(out, pending[i])
    table.insert(out, pending[i + 1])
  else
    redis.call('HDEL', P .. 'offline', pending[i])
  end
end
return out
`;

/** Only the announcement that was handled: a later one (the agent came and went again) stays. */
const OFFLINE_HANDLED = `
if redis.call('HGET', ARGV[1] .. 'offline', ARGV[2]) == ARGV[3] then
  redis.call('HDEL', ARGV[1] .. 'offline', ARGV[2])
end
return 0
`;

const STATUSES = new Set<PresenceStatus>(['online', 'away', 'offline']);

/**
 * Presence shared by every node through Redis. A node counts its sockets per agent under its own
 * id and beats; a node that stops beating (killed, cut off) is judged dead by the others after
 * `nodeTtlMs`, its sockets stop counting from its last beat, and its agents go offline once their
 * grace period has run from then. A node that was judged dead while alive, or a Redis that lost its
 * data, is noticed on the node's next call (`unknownNode`), and the node restores its counts.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly prefix: string;
  private readonly nodeId = randomUUID();

  constructor(
    private readonly redis: Redis,
    keyPrefix: string,
    private readonly timing: PresenceTiming,
  ) {
    this.prefix = `${keyPrefix}presence:`;
  }

  async connect(projectId: string, agentId: string): Promise<PresenceAnswer> {
    return this.run(CHANGE_SOCKETS, projectId, agentId, 1);
  }

  async disconnect(projectId: string, agentId: string): Promise<PresenceAnswer> {
    return this.run(CHANGE_SOCKETS, projectId, agentId, -1);
  }

  async choose(projectId: string, agentId: string, status: ChosenStatus): Promise<PresenceAnswer> {
    return this.run(CHOOSE, projectId, agentId, status);
  }

  async restore(local: LocalCount[]): Promise<PresenceAnswer> {
    return this.run(RESTORE, ...local.flatMap((l) => [l.projectId, l.agentId, l.count, l.chosen ?? '']));
  }

  async sweep(judge: boolean): Promise<PresenceAnswer> {
    return this.run(SWEEP, this.timing.nodeTtlMs, judge ? '1' : '0');
  }

  async leave(): Promise<void> {
    await this.run(LEAVE);
  }

  async statuses(projectId: string): Promise<Map<string, PresenceStatus>> {
    const stored = await this.redis.hgetall(`${this.prefix}project:${projectId}`);
    const statuses = new Map<string, PresenceStatus>();
    for (const [agentId, status] of Object.entries(stored)) {
      if (STATUSES.has(status as PresenceStatus)) statuses.set(agentId, status as PresenceStatus);
    }
    return statuses;
  }

  async offlinePending(): Promise<OfflineAgent[]> {
    const flat = (await this.redis.eval(OFFLINE_PENDING, 0, this.prefix)) as string[];
    const pending: OfflineAgent[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      pending.push({ projectId: flat[i] as string, agentId: flat[i + 1] as string, mark: flat[i + 2] as string });
    }
    return pending;
  }

  async offlineHandled(agent: OfflineAgent): Promise<void> {
    await this.redis.eval(OFFLINE_HANDLED, 0, this.prefix, agent.agentId, agent.mark);
  }

  private async run(script: string, ...args: (string | number)[]): Promise<PresenceAnswer> {
    const reply = (await this.redis.eval(script, 0, this.prefix, this.timing.graceMs, this.nodeId, ...args)) as
      string | string[];
    if (reply === 'unknown') return { changes: [], unknownNode: true };
    const flat = Array.isArray(reply) ? reply : [];
    const changes: PresenceChange[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      changes.push({
        projectId: flat[i] as string,
        agentId: flat[i + 1] as string,
        status: flat[i + 2] as PresenceStatus,
      });
    }
    return { changes, unknownNode: false };
  }
}
