import { Redis } from 'ioredis';
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
  const open = (name: string): Redis => {
    const client = new Redis(url, {
      connectionName: `parley-${name}`,
      // A command during an outage fails after one retry instead of hanging the request.
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000) + Math.floor(Math.random() * 100),
      lazyConnect: false,
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
  const command = open('command');
  const adapter = open('adapter');
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
      await Promise.allSettled([command.quit(), adapter.quit()]);
      command.disconnect();
      adapter.disconnect();
    },
  };
}
