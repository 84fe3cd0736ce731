import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '../errors';
import type { Clock } from '../infra/clock';
import { TtlCache } from '../infra/ttl-cache';
import type { LeadDoc, LeadModel } from './lead-model';

/**
 * Whether a visitor (one user of one project) is blocked, with the lead's `blockRev`: the shared
 * copy only ever moves to a higher revision, so a reader refilling from an older database read
 * never undoes a newer block or unblock.
 */
export interface BlockState {
  rev: number;
  blocked: boolean;
}

export const blockedError = () => new AppError('BLOCKED', 'This contact was blocked by the project');

/** Releases a command's hold on its visitor (see BlockGate.enter); calling it twice is harmless. */
export type Release = () => void;

/**
 * The one check every visitor token passes on every node before it may act (sign-in, handshake,
 * each command), and the fence a block waits on:
 *
 * - `enter` checks the visitor is not blocked and, in the same atomic step, records the command as
 *   in flight until its release;
 * - a block writes the database, `raise`s the shared state, then `drain`s: waits until no command
 *   that entered before the raise is still running. A command either entered before the raise (the
 *   block waits for it) or checks after it (and is refused), so once the block is acknowledged
 *   nothing more its visitors send is stored, whichever node they are on.
 */
export interface BlockGate {
  enter(projectId: string, userId: string): Promise<Release>;
  /** `enter` without holding anything: for sign-in and token refresh, which store nothing. */
  check(projectId: string, userId: string): Promise<void>;
  raise(projectId: string, userId: string, state: BlockState): Promise<void>;
  drain(projectId: string, userId: string): Promise<void>;
}

/** The state a visitor's lead holds (a user without a lead is not blocked). */
export async function stateFromDatabase(leads: LeadModel, projectId: string, userId: string): Promise<BlockState> {
  const doc = await leads
    .findOne({ projectId, userId }, { blocked: 1, blockRev: 1 })
    .lean<Pick<LeadDoc, 'blocked' | 'blockRev'>>()
    .exec();
  return { rev: doc?.blockRev ?? 0, blocked: Boolean(doc?.blocked) };
}

/**
 * A command in flight is forgotten after this long even when its node died before releasing it:
 * a block waits at most this long for the commands of a dead node.
 */
export const IN_FLIGHT_TTL_MS = 30_000;
const DRAIN_POLL_MS = 10;
/** A shared state is read again from the database after this long (bounds a stale copy's life). */
export const BLOCK_STATE_TTL_MS = 10 * 60_000;

/**
 * Without Redis the server is one node: its memory is the shared copy, refilled from the database
 * on a miss, and commands in flight are counted per visitor.
 */
export class MemoryBlockGate implements BlockGate {
  private readonly states = new TtlCache<BlockState>(BLOCK_STATE_TTL_MS, BLOCK_STATE_TTL_MS, 50_000);
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly leads: LeadModel) {}

  private async state(projectId: string, userId: string): Promise<BlockState> {
    const key = `${projectId}:${userId}`;
    const cached = this.states.peek(key);
    if (cached?.fresh) return cached.value;
    const read = await stateFromDatabase(this.leads, projectId, userId);
    // A raise that landed while the database was read wins: it is at least as new.
    const now = this.states.peek(key);
    if (now?.fresh && now.value.rev >= read.rev) return now.value;
    this.states.set(key, read);
    return read;
  }

  async check(projectId: string, userId: string): Promise<void> {
    if ((await this.state(projectId, userId)).blocked) throw blockedError();
  }

  async enter(projectId: string, userId: string): Promise<Release> {
    const key = `${projectId}:${userId}`;
    // Counted before the check, so that a raise between the two still finds this command to wait for.
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
    };
    try {
      await this.check(projectId, userId);
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }

  async raise(projectId: string, userId: string, state: BlockState): Promise<void> {
    const key = `${projectId}:${userId}`;
    const current = this.states.peek(key)?.value;
    if (!current || current.rev <= state.rev) this.states.set(key, state);
  }

  async drain(projectId: string, userId: string): Promise<void> {
    const key = `${projectId}:${userId}`;
    const deadline = Date.now() + IN_FLIGHT_TTL_MS;
    while ((this.inFlight.get(key) ?? 0) > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }
}

/** SET only when nothing is stored or the stored revision is lower: revisions never go back. */
const RAISE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded.v) and tonumber(decoded.v) > tonumber(ARGV[1]) then
    return 0
  end
  if ARGV[4] == '1' and ok and type(decoded) == 'table' and tonumber(decoded.v) == tonumber(ARGV[1]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

/**
 * -1: the state is not in Redis (read the database, fill, try again); 1: blocked; 0: not blocked,
 * and (when ARGV[1] names a command) the command is recorded in flight until ARGV[2].
 */
const ENTER_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
local ok, decoded = pcall(cjson.decode, current)
if not ok or type(decoded) ~= 'table' then return -1 end
if tonumber(decoded.b) == 1 then return 1 end
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 0
`;

/** Removes expired commands, then counts those still in flight. */
const DRAIN_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1])
`;

/**
 * The shared state in one Redis key per visitor, and the commands in flight in a sorted set per
 * visitor (scored by when each expires, on the cluster's clock): every node reads the same copy on
 * every command, so a node that missed a block's socket close still refuses the next command. One
 * round trip per command (a script). When Redis cannot answer, the database answers the check
 * (without the fence: during a Redis outage a block waits for nothing in flight).
 */
export class RedisBlockGate implements BlockGate {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly leads: LeadModel,
    private readonly clock: Clock,
  ) {}

  private stateKey(projectId: string, userId: string): string {
    return `${this.keyPrefix}visitor-block:${projectId}:${userId}`;
  }

  private inFlightKey(projectId: string, userId: string): string {
    return `${this.keyPrefix}visitor-in-flight:${projectId}:${userId}`;
  }

  private async run(projectId: string, userId: string, command: string): Promise<void> {
    const keys = [this.stateKey(projectId, userId), this.inFlightKey(projectId, userId)];
    for (let attempt = 0; attempt < 3; attempt++) {
      let answer: unknown;
      try {
        answer = await this.redis.eval(
          ENTER_SCRIPT,
          2,
          ...keys,
          command,
          String(this.clock.now() + IN_FLIGHT_TTL_MS),
          String(IN_FLIGHT_TTL_MS),
        );
      } catch {
        // Redis is down: the database is the authority.
        const state = await stateFromDatabase(this.leads, projectId, userId);
        if (state.blocked) throw blockedError();
        return;
      }
      if (answer === 1) throw blockedError();
      if (answer === 0) return;
      // A miss: fill from the database (never over a newer revision), then check again.
      const state = await stateFromDatabase(this.leads, projectId, userId);
      await this.store(projectId, userId, state, true).catch(() => undefined);
    }
    const state = await stateFromDatabase(this.leads, projectId, userId);
    if (state.blocked) throw blockedError();
  }

  async check(projectId: string, userId: string): Promise<void> {
    await this.run(projectId, userId, '');
  }

  async enter(projectId: string, userId: string): Promise<Release> {
    const command = randomUUID();
    await this.run(projectId, userId, command);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Not awaited: a command left behind only makes a block wait until it expires.
      this.redis.zrem(this.inFlightKey(projectId, userId), command).catch(() => undefined);
    };
  }

  private async store(projectId: string, userId: string, state: BlockState, fill: boolean): Promise<void> {
    const encoded = JSON.stringify({ v: state.rev, b: state.blocked ? 1 : 0 });
    await this.redis.eval(
      RAISE_SCRIPT,
      1,
      this.stateKey(projectId, userId),
      String(state.rev),
      encoded,
      String(BLOCK_STATE_TTL_MS),
      fill ? '1' : '0',
    );
  }

  async raise(projectId: string, userId: string, state: BlockState): Promise<void> {
    await this.store(projectId, userId, state, false);
  }

  async drain(projectId: string, userId: string): Promise<void> {
    const key = this.inFlightKey(projectId, userId);
    for (;;) {
      const left = Number(await this.redis.eval(DRAIN_SCRIPT, 1, key, String(this.clock.now())));
      if (left === 0) return;
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }
}
