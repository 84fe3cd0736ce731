import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { SyncReloadEvent } from '@parley/protocol';
import { createMemoryAdapter, createRedisAdapter, type NamespacePolicy } from '@parley/realtime-adapter';
import type { Config } from '../config';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import type { RedisConnections } from '../infra/redis';

/** Socket.IO frames are small in this protocol; a low cap makes oversized frames cheap to drop. */
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * Only agent consoles get connection state recovery. A visitor's SDK catches up by `seq` after
 * every reconnect (conversation:list, then history), so keeping every visitor push for replay and
 * a session per dropped visitor socket would cost memory and Redis traffic for nothing.
 */
const NAMESPACES: Record<string, NamespacePolicy> = {
  '/agent': { recovery: true },
  '/visitor': { recovery: false },
};

/**
 * The Socket.IO server on the HTTP server. Connection state recovery lets an agent socket that
 * comes back within the recovery window receive what it missed; its packets are replayed only once
 * the namespace's handshake accepted the new token (see @parley/realtime-adapter). With Redis, a stream
 * per namespace carries room broadcasts to every node and keeps recovery working across nodes;
 * same-node delivery goes on through a Redis outage and the other nodes catch up afterwards, or are
 * told to reload where that cannot be guaranteed.
 */
export function createSocketServer(
  httpServer: HttpServer,
  config: Config,
  logger: Logger,
  metrics: Metrics,
  redis?: RedisConnections,
): Server {
  const lossEvent = (reason: SyncReloadEvent['reason']): unknown[] => {
    const event: SyncReloadEvent = { reason };
    return ['sync.reload', event];
  };
  return new Server(httpServer, {
    path: '/socket.io',
    serveClient: false,
    maxHttpBufferSize: MAX_FRAME_BYTES,
    // Origins are checked per namespace (project allow-list for visitors, CORS_ORIGINS for agents).
    cors: { origin: true, credentials: false },
    connectionStateRecovery: {
      maxDisconnectionDuration: config.recoveryWindowMs,
      skipMiddlewares: false,
    },
    adapter: redis
      ? createRedisAdapter(
          redis.adapter,
          {
            prefix: `${config.redisKeyPrefix}socket.io`,
            maxLen: config.redisStreamMaxLen,
            namespaces: NAMESPACES,
            recoveryWindowMs: config.recoveryWindowMs,
            lossEvent,
          },
          logger,
          metrics,
        )
      : createMemoryAdapter(NAMESPACES, config.recoveryWindowMs, config.redisStreamMaxLen),
  });
}
