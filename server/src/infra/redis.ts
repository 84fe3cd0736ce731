import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger';
import { withTimeout } from './database';

export interface RedisConnections {
  /** Commands: rate limits, shared state, the adapter's writes. */
  command: Redis;
  /** The Socket.IO streams adapter blocks on XREAD, so it gets a connection of its own. */
  adapter: Redis;
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/** A command of the command connection (rate limits, pings) fails after this long unanswered. */
const COMMAND_TIMEOUT_MS = 500;
/** A connection waiting for a reply that receives nothing for this long is dropped and reopened. */
const SOCKET_TIMEOUT_MS = 2_000;
const ADAPTER_SOCKET_TIMEOUT_MS = 5_000;
const KEEPALIVE_MS = 10_000;

/**
 * Redis connections that reconnect forever with a capped backoff, and log an outage once when it
 * starts and once when it ends rather than on every retry.
 */
export function connectRedis(url: string, logger: Logger): RedisConnections {
  const open = (name: string, options: RedisOptions): Redis => {
    const client = new Redis(url, {
      connectionName: `parley-${name}`,
      // Jittered and capped, so that nodes coming back together do not reconnect in lockstep.
      retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000) + Math.floor(Math.random() * 100),
      lazyConnect: false,
      // A peer that vanished without a reset (a dead host, a dropped route) is noticed on an idle
      // connection too, not only when a reply is late.
      keepAlive: KEEPALIVE_MS,
      ...options,
    });
    let down = false;
    client.on('error', (error: Error) => {
      if (!down) logger.warn({ redis: name, err: error.message }, 'redis unavailable');
      down = true;
    });
    client.on('ready', () => {
      if (down) logger.info({ redis: name }, 'redis reconnected');
      down = false;
    });
    return client;
  };
  // Rate limits and health checks must answer now: during an outage a command fails at once (the
  // rate limiter then counts in memory) instead of waiting in a queue. A Redis that accepts the
  // connection but does not answer (stalled, SIGSTOP) fails each command after COMMAND_TIMEOUT_MS,
  // and the connection is dropped (and so no longer "ready") after SOCKET_TIMEOUT_MS without data.
  const command = open('command', {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
  });
  // Cross-node broadcasts made during an outage wait in this client's offline queue, in order, and
  // go out when Redis returns (see @parley/realtime-adapter): so it queues and never gives up.
  // A stalled connection is dropped and its unanswered commands re-sent on the next one (receivers
  // drop the copies).
  const adapter = open('adapter', {
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    socketTimeout: ADAPTER_SOCKET_TIMEOUT_MS,
  });
  return {
    command,
    adapter,
    async ping(timeoutMs = 1000) {
      if (command.status !== 'ready') return false;
      try {
        return (await withTimeout(command.ping(), timeoutMs)) === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {
      // QUIT waits for Redis; during an outage it would wait forever, so give it a moment only.
      await Promise.allSettled([withTimeout(command.quit(), 1000), withTimeout(adapter.quit(), 1000)]);
      command.disconnect();
      adapter.disconnect();
    },
  };
}
