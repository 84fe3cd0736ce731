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
  // rate limiter then counts in memory) instead of waiting in a queue.
  const command = open('command', { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  // Cross-node broadcasts made during an outage wait in this client's offline queue, in order, and
  // go out when Redis returns (see realtime/resilient-adapter.ts): so it queues and never gives up.
  const adapter = open('adapter', { enableOfflineQueue: true, maxRetriesPerRequest: null });
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
