import type { Redis } from 'ioredis';
import { LIMITS, type LiveVisitor, type LiveVisitorsResponse } from '@parley/protocol';
import type { Logger } from '../infra/logger';

/** What a visitor's entry in the live list says beyond its tabs. */
export interface LiveInfo {
  leadId?: string;
  url?: string;
  title?: string;
}

/**
 * Who is on the site now (issue 15), across nodes. Each open visitor socket is a tab, kept with an
 * expiry its node pushes forward while the socket is open (every third of the TTL); a visitor is
 * listed once while any of its tabs, on any node, is unexpired. A closed tab is removed at once (the
 * visitor with it when it was its last); a dead node's tabs simply expire after the TTL.
 */
export interface LiveVisitorStore {
  join(projectId: string, userId: string, tabId: string, info: LiveInfo): Promise<void>;
  /** The tabs this node still holds: their expiry moves on (never brings back a tab that left). */
  refresh(tabs: { projectId: string; userId: string; tabId: string }[]): Promise<void>;
  leave(projectId: string, userId: string, tabId: string): Promise<void>;
  /** The visitor viewed a page or did something: its current page and `lastActiveAt` move. */
  saw(projectId: string, userId: string, info: LiveInfo): Promise<void>;
  list(projectId: string): Promise<LiveVisitorsResponse>;
}

interface StoredInfo extends LiveInfo {
  since: number;
  lastActiveAt: number;
}

function toLive(userId: string, info: StoredInfo, tabs: number): LiveVisitor {
  return {
    userId,
    ...(info.leadId ? { leadId: info.leadId } : {}),
    ...(info.url ? { url: info.url } : {}),
    ...(info.title ? { title: info.title } : {}),
    since: new Date(info.since).toISOString(),
    lastActiveAt: new Date(info.lastActiveAt).toISOString(),
    tabs,
  };
}

function newestFirst(items: LiveVisitor[]): LiveVisitorsResponse {
  items.sort((a, b) => b.lastActiveAt.localeCompare(a.lastActiveAt) || a.userId.localeCompare(b.userId));
  return { items: items.slice(0, LIMITS.liveVisitorsMax), total: items.length };
}

/** One node: its own memory is the whole list. */
export class MemoryLiveVisitorStore implements LiveVisitorStore {
  private readonly projects = new Map<string, Map<string, { tabs: Map<string, number>; info: StoredInfo }>>();

  constructor(private readonly ttlMs: number) {}

  private users(projectId: string) {
    let users = this.projects.get(projectId);
    if (!users) this.projects.set(projectId, (users = new Map()));
    return users;
  }

  private prune(projectId: string, now = Date.now()) {
    const users = this.users(projectId);
    for (const [userId, entry] of users) {
      for (const [tab, expiry] of entry.tabs) if (expiry <= now) entry.tabs.delete(tab);
      if (entry.tabs.size === 0) users.delete(userId);
    }
    return users;
  }

  async join(projectId: string, userId: string, tabId: string, info: LiveInfo): Promise<void> {
    const now = Date.now();
    const users = this.prune(projectId, now);
    const entry = users.get(userId) ?? { tabs: new Map<string, number>(), info: { since: now, lastActiveAt: now } };
    entry.tabs.set(tabId, now + this.ttlMs);
    entry.info = { ...entry.info, ...info, lastActiveAt: now };
    users.set(userId, entry);
  }

  async refresh(tabs: { projectId: string; userId: string; tabId: string }[]): Promise<void> {
    const now = Date.now();
    for (const { projectId, userId, tabId } of tabs) {
      const entry = this.projects.get(projectId)?.get(userId);
      if (entry?.tabs.has(tabId)) entry.tabs.set(tabId, now + this.ttlMs);
    }
  }

  async leave(projectId: string, userId: string, tabId: string): Promise<void> {
    const users = this.users(projectId);
    const entry = users.get(userId);
    entry?.tabs.delete(tabId);
    if (entry && entry.tabs.size === 0) users.delete(userId);
  }

  async saw(projectId: string, userId: string, info: LiveInfo): Promise<void> {
    const entry = this.users(projectId).get(userId);
    if (entry) entry.info = { ...entry.info, ...info, lastActiveAt: Date.now() };
  }

  async list(projectId: string): Promise<LiveVisitorsResponse> {
    const users = this.prune(projectId);
    return newestFirst([...users].map(([userId, { tabs, info }]) => toLive(userId, info, tabs.size)));
  }
}

/**
 * Keys under `P` (the deployment's prefix, `live:` and the project id):
 * - `P:users`: user id -> the latest expiry of its tabs (a sorted set: the expired are cut by score);
 * - `P:tabs:{user}`: tab id -> its expiry;
 * - `P:info`: user id -> JSON `{ since, lastActiveAt, leadId, url, title }`.
 * Time is Redis's own (TIME), so nodes with skewed clocks agree on every expiry. Every key is given
 * a long expiry on each write, so a project whose visitors all left leaves nothing behind.
 */
const PRELUDE = `
local P = ARGV[1]
local TTL = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local KEEP = TTL * 10
local function tabsKey(user) return P .. ':tabs:' .. user end
local function merge(user, fields, fresh)
  local info = nil
  if not fresh then
    local raw = redis.call('HGET', P .. ':info', user)
    if raw then
      local ok, decoded = pcall(cjson.decode, raw)
      if ok and type(decoded) == 'table' then info = decoded end
    end
  end
  if not info then info = { since = now } end
  for k, v in pairs(fields) do if v ~= '' then info[k] = v end end
  info.lastActiveAt = now
  redis.call('HSET', P .. ':info', user, cjson.encode(info))
  redis.call('PEXPIRE', P .. ':info', KEEP)
end
`;

/** ARGV: P, TTL, user, tab, leadId, url, title. */
const JOIN_SCRIPT = `${PRELUDE}
local user = ARGV[3]
local tabs = tabsKey(user)
redis.call('ZREMRANGEBYSCORE', tabs, '-inf', now)
local fresh = redis.call('ZCARD', tabs) == 0
redis.call('ZADD', tabs, now + TTL, ARGV[4])
redis.call('PEXPIRE', tabs, KEEP)
redis.call('ZADD', P .. ':users', 'GT', now + TTL, user)
redis.call('PEXPIRE', P .. ':users', KEEP)
merge(user, { leadId = ARGV[5], url = ARGV[6], title = ARGV[7] }, fresh)
return 1
`;

/**
 * ARGV: '', TTL, then (project key, user, tab) triples: a node's tabs in one call. Only a tab still
 * there moves on: one that left stays gone.
 */
const REFRESH_SCRIPT = `${PRELUDE}
for i = 3, #ARGV, 3 do
  local base = ARGV[i]
  local user = ARGV[i + 1]
  local tab = ARGV[i + 2]
  local tabs = base .. ':tabs:' .. user
  if redis.call('ZSCORE', tabs, tab) then
    redis.call('ZADD', tabs, 'XX', now + TTL, tab)
    redis.call('PEXPIRE', tabs, KEEP)
    redis.call('ZADD', base .. ':users', 'GT', now + TTL, user)
    redis.call('PEXPIRE', base .. ':users', KEEP)
    redis.call('PEXPIRE', base .. ':info', KEEP)
  end
end
return 1
`;

/** Tabs refreshed per script call: bounds how long one call holds Redis. */
const REFRESH_BATCH = 500;

/** ARGV: P, TTL, user, tab. */
const LEAVE_SCRIPT = `${PRELUDE}
local user = ARGV[3]
local tabs = tabsKey(user)
redis.call('ZREM', tabs, ARGV[4])
redis.call('ZREMRANGEBYSCORE', tabs, '-inf', now)
if redis.call('ZCARD', tabs) == 0 then
  redis.call('DEL', tabs)
  redis.call('ZREM', P .. ':users', user)
  redis.call('HDEL', P .. ':info', user)
end
return 1
`;

/** ARGV: P, TTL, user, leadId, url, title. Only a visitor listed now is updated. */
const SAW_SCRIPT = `${PRELUDE}
local user = ARGV[3]
local expiry = redis.call('ZSCORE', P .. ':users', user)
if not expiry or tonumber(expiry) <= now then return 0 end
merge(user, { leadId = ARGV[4], url = ARGV[5], title = ARGV[6] }, false)
return 1
`;

/**
 * ARGV: P, TTL. Cuts the expired (their info with them), then answers every listed user as
 * [user, info JSON, live tabs] triples.
 */
const LIST_SCRIPT = `${PRELUDE}
local users = P .. ':users'
local gone = redis.call('ZRANGEBYSCORE', users, '-inf', now)
for _, user in ipairs(gone) do
  redis.call('ZREM', users, user)
  redis.call('HDEL', P .. ':info', user)
  redis.call('DEL', tabsKey(user))
end
local out = {}
for _, user in ipairs(redis.call('ZRANGE', users, 0, -1)) do
  local tabs = redis.call('ZCOUNT', tabsKey(user), '(' .. now, '+inf')
  if tabs > 0 then
    table.insert(out, user)
    table.insert(out, redis.call('HGET', P .. ':info', user) or '')
    table.insert(out, tabs)
  end
end
return out
`;

export class RedisLiveVisitorStore implements LiveVisitorStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly ttlMs: number,
  ) {}

  private base(projectId: string): [string, string] {
    return [`${this.keyPrefix}live:${projectId}`, String(this.ttlMs)];
  }

  async join(projectId: string, userId: string, tabId: string, info: LiveInfo): Promise<void> {
    await this.redis.eval(
      JOIN_SCRIPT,
      0,
      ...this.base(projectId),
      userId,
      tabId,
      info.leadId ?? '',
      info.url ?? '',
      info.title ?? '',
    );
  }

  async refresh(tabs: { projectId: string; userId: string; tabId: string }[]): Promise<void> {
    for (let start = 0; start < tabs.length; start += REFRESH_BATCH) {
      const args = tabs
        .slice(start, start + REFRESH_BATCH)
        .flatMap(({ projectId, userId, tabId }) => [this.base(projectId)[0], userId, tabId]);
      await this.redis.eval(REFRESH_SCRIPT, 0, '', String(this.ttlMs), ...args);
    }
  }

  async leave(projectId: string, userId: string, tabId: string): Promise<void> {
    await this.redis.eval(LEAVE_SCRIPT, 0, ...this.base(projectId), userId, tabId);
  }

  async saw(projectId: string, userId: string, info: LiveInfo): Promise<void> {
    await this.redis.eval(
      SAW_SCRIPT,
      0,
      ...this.base(projectId),
      userId,
      info.leadId ?? '',
      info.url ?? '',
      info.title ?? '',
    );
  }

  async list(projectId: string): Promise<LiveVisitorsResponse> {
    const flat = (await this.redis.eval(LIST_SCRIPT, 0, ...this.base(projectId))) as (string | number)[];
    const items: LiveVisitor[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      let info: StoredInfo | undefined;
      try {
        info = JSON.parse(String(flat[i + 1])) as StoredInfo;
      } catch {
        info = undefined;
      }
      // A tab that joined while its info was being cut: listed from now.
      const stored = info && typeof info.since === 'number' ? info : { since: Date.now(), lastActiveAt: Date.now() };
      items.push(toLive(String(flat[i]), stored, Number(flat[i + 2])));
    }
    return newestFirst(items);
  }
}

/**
 * This node's side of the live list: the tabs it holds, joined on connect, left on disconnect,
 * and refreshed in the store every third of the TTL while they stay open. Failures are logged,
 * never thrown at a socket: the list is a view, and a missed refresh heals at the next.
 */
export class LiveVisitors {
  private readonly tabs = new Map<string, { projectId: string; userId: string; tabId: string }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: LiveVisitorStore,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer ??= setInterval(
      () => {
        this.store
          .refresh([...this.tabs.values()])
          .catch((error: unknown) => this.logger.warn({ err: error }, 'could not refresh live visitors'));
      },
      Math.max(100, Math.floor(this.ttlMs / 3)),
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  connected(projectId: string, userId: string, tabId: string, info: LiveInfo = {}): void {
    const tab = { projectId, userId, tabId };
    this.tabs.set(tabId, tab);
    this.store
      .join(projectId, userId, tabId, info)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'could not list a live visitor'));
  }

  disconnected(projectId: string, userId: string, tabId: string): void {
    this.tabs.delete(tabId);
    this.store
      .leave(projectId, userId, tabId)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'could not unlist a live visitor'));
  }

  /** A page view or event on a tab: the tab is (re)listed, with the visitor's current page. */
  async saw(projectId: string, userId: string, tabId: string, info: LiveInfo): Promise<void> {
    if (this.tabs.has(tabId)) await this.store.join(projectId, userId, tabId, info);
    else await this.store.saw(projectId, userId, info);
  }

  list(projectId: string): Promise<LiveVisitorsResponse> {
    return this.store.list(projectId);
  }
}
