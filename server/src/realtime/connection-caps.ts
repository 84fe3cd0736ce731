import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Redis } from 'ioredis';
import type { Socket } from 'socket.io';
import { AppError } from '../errors';
import type { Logger } from '../infra/logger';
import { handshake } from './handshake';
import type { AgentNamespace, AgentSocket, VisitorNamespace, VisitorSocket } from './socket-types';

export interface ConnectionCapsOptions {
  /** Open sockets per visitor (all tabs of one user of one project) or per agent. */
  perUser: number;
  /** Open sockets per client address, whoever they are for. */
  perAddress: number;
  /** Prefix of the Redis keys. */
  keyPrefix: string;
}

/** A node that has not said it is alive for this long no longer counts: its sockets died with it. */
const NODE_TTL_MS = 15_000;
const NODE_HEARTBEAT_MS = 5_000;
/** A count nobody touched for this long is dropped with its key (a live socket then counts as gone). */
const KEY_TTL_MS = 24 * 3600_000;

/**
 * Checks every cap, each a hash of per-node counts, and takes a slot in all of them or in none.
 * Counts of nodes whose liveness key has expired are dropped on the way, so a node that died
 * (killed, cut off) stops holding slots within NODE_TTL_MS without anyone having to clean up.
 * KEYS: the caps' hashes. ARGV: this node, the liveness key prefix, key TTL, then a limit per key.
 * Returns 0, or the 1-based index of the first cap that is full.
 */
const ACQUIRE = `
for i, key in ipairs(KEYS) do
  local fields = redis.call('HGETALL', key)
  local total = 0
  for j = 1, #fields, 2 do
    local node = fields[j]
    if node ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. node) == 0 then
      redis.call('HDEL', key, node)
    else
      total = total + tonumber(fields[j + 1])
    end
  end
  if total >= tonumber(ARGV[3 + i]) then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, ARGV[1], 1)
  redis.call('PEXPIRE', key, ARGV[3])
end
return 0
`;

/** Gives the slots back; a count that reaches zero (or below, after a key expired) is removed. */
const RELEASE = `
for _, key in ipairs(KEYS) do
  if redis.call('HINCRBY', key, ARGV[1], -1) <= 0 then redis.call('HDEL', key, ARGV[1]) end
end
return 0
`;

interface Cap {
  key: string;
  limit: number;
  what: string;
}

/**
 * The slots one socket holds until it goes. Kept small: a node holds one per open socket, so the
 * address key is rebuilt on release rather than kept (the address string is the connection's own),
 * and the user key is the very string the local count is kept under.
 */
interface Hold {
  userKey: string;
  address: string;
  /** Taken in Redis (given back there), or counted on this node only. */
  shared: boolean;
}

/**
 * Caps on open sockets per user and per client address, across every node when Redis is
 * configured: one atomic script takes a slot in each cap or refuses (RATE_LIMITED, in the
 * handshake), and the socket gives its slots back when its connection closes. While Redis cannot
 * answer, a node counts its own sockets only (as rate limits do), rather than refusing everyone.
 */
export class ConnectionCaps {
  private readonly nodeId = randomUUID();
  private readonly local = new Map<string, number>();
  private readonly held = new WeakMap<Socket, Hold>();
  private heartbeat: NodeJS.Timeout | undefined;
  /**
   * One listener for every socket's `disconnect` (`this` is the socket) rather than closures per
   * socket: an idle socket then costs its Hold and a listener slot.
   */
  private readonly onDisconnect: (this: Socket) => void;
  /** Gives back the slots of a socket that Socket.IO did not connect after all (see `hold`). */
  private readonly settle = (socket: Socket): void => {
    if (!socket.connected) this.release(socket);
  };

  constructor(
    private readonly options: ConnectionCapsOptions,
    private readonly logger: Logger,
    private readonly redis?: Redis,
  ) {
    const release = (socket: Socket) => this.release(socket);
    this.onDisconnect = function (this: Socket) {
      release(this);
    };
  }

  /** Starts saying this node is alive (with Redis); its counts stop mattering once it stops. */
  start(): void {
    if (!this.redis || this.heartbeat) return;
    const beat = () => {
      this.redis?.set(this.aliveKey(), '1', 'PX', NODE_TTL_MS).catch(() => undefined);
    };
    beat();
    this.heartbeat = setInterval(beat, NODE_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** This node's sockets are closed: its counts go at once rather than after NODE_TTL_MS. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await this.redis?.del(this.aliveKey()).catch(() => undefined);
  }

  /**
   * Counts `socket` against its owner's and its address's caps, or throws RATE_LIMITED. Synchronous
   * without Redis, so the handshake stays synchronous there.
   */
  admit(socket: Socket, owner: string, address: string): void | Promise<void> {
    const hold: Hold = { userKey: `${this.options.keyPrefix}conn:user:${owner}`, address, shared: false };
    const caps: Cap[] = [
      { key: hold.userKey, limit: this.options.perUser, what: 'this user' },
      { key: this.addressKey(address), limit: this.options.perAddress, what: 'this address' },
    ];
    if (!this.redis) {
      this.admitLocally(socket, caps, hold);
      return;
    }
    return this.admitShared(this.redis, socket, caps, hold);
  }

  private async admitShared(redis: Redis, socket: Socket, caps: Cap[], hold: Hold): Promise<void> {
    let full: number;
    try {
      full = Number(
        await redis.eval(
          ACQUIRE,
          caps.length,
          ...caps.map((c) => c.key),
          this.nodeId,
          `${this.options.keyPrefix}conn:node:`,
          KEY_TTL_MS,
          ...caps.map((c) => c.limit),
        ),
      );
    } catch (error) {
      this.logger.debug({ err: error }, 'connection caps counted on this node: redis unavailable');
      this.admitLocally(socket, caps, hold);
      return;
    }
    if (full > 0) throw refusal(caps[full - 1]);
    hold.shared = true;
    this.hold(socket, hold);
  }

  private admitLocally(socket: Socket, caps: Cap[], hold: Hold): void {
    const full = caps.find((c) => (this.local.get(c.key) ?? 0) >= c.limit);
    if (full) throw refusal(full);
    for (const { key } of caps) this.local.set(key, (this.local.get(key) ?? 0) + 1);
    this.hold(socket, hold);
  }

  /**
   * Keeps `hold` until the socket disconnects. A socket can also go before it ever connects (its
   * client went away between the handshake and the connection, or while the shared count was
   * being taken): it then has no `disconnect`. Socket.IO decides whether to connect it on the tick
   * after the last handshake step (this one) succeeds, connecting it only if its transport is
   * still open; so once the next turn of the event loop comes (`setImmediate`), a socket that is
   * not connected never will be, and gives its slots back then.
   */
  private hold(socket: Socket, hold: Hold): void {
    this.held.set(socket, hold);
    socket.on('disconnect', this.onDisconnect);
    setImmediate(this.settle, socket);
  }

  /** Gives the socket's slots back, once: whichever of `disconnect` and `settle` comes first. */
  private release(socket: Socket): void {
    const hold = this.held.get(socket);
    if (!hold) return;
    this.held.delete(socket);
    const keys = [hold.userKey, this.addressKey(hold.address)];
    if (hold.shared) {
      this.redis?.eval(RELEASE, keys.length, ...keys, this.nodeId).catch(() => undefined);
      return;
    }
    for (const key of keys) {
      const left = (this.local.get(key) ?? 1) - 1;
      if (left > 0) this.local.set(key, left);
      else this.local.delete(key);
    }
  }

  private addressKey(address: string): string {
    return `${this.options.keyPrefix}conn:addr:${address}`;
  }

  private aliveKey(): string {
    return `${this.options.keyPrefix}conn:node:${this.nodeId}`;
  }
}

function refusal(cap: Cap | undefined): AppError {
  return new AppError('RATE_LIMITED', `Too many open connections for ${cap?.what ?? 'this client'}`);
}

/**
 * The caps as the last handshake step of both namespaces (after the token was accepted): a
 * visitor's sockets count per project user, an agent's per agent, and both per client address.
 */
export function capConnections(
  caps: ConnectionCaps,
  addressOf: (request: IncomingMessage) => string,
  visitors: VisitorNamespace,
  agents: AgentNamespace,
): void {
  visitors.use(
    handshake<VisitorSocket>((socket) => {
      const { projectId, userId } = socket.data.principal;
      return caps.admit(socket, `visitor:${projectId}:${userId}`, addressOf(socket.request));
    }),
  );
  agents.use(
    handshake<AgentSocket>((socket) =>
      caps.admit(socket, `agent:${socket.data.principal.agentId}`, addressOf(socket.request)),
    ),
  );
}
