import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { Config } from '../config';
import type { Logger } from '../infra/logger';
import type { RedisConnections } from '../infra/redis';
import { createResilientAdapter } from './resilient-adapter';

/** Socket.IO frames are small in this protocol; a low cap makes oversized frames cheap to drop. */
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * The Socket.IO server on the HTTP server. Connection state recovery lets a socket that comes back
 * within the recovery window receive what it missed; middlewares (token checks) run again on
 * recovery, so an expired token is never let back in. With Redis, the streams adapter carries room
 * broadcasts to every node and keeps recovery working across nodes; the wrapper keeps same-node
 * delivery going through a Redis outage and catches the other nodes up afterwards.
 */
export function createSocketServer(
  httpServer: HttpServer,
  config: Config,
  logger: Logger,
  redis?: RedisConnections,
): Server {
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
    ...(redis
      ? {
          adapter: createResilientAdapter(redis.adapter, { streamName: 'parley:socket.io', maxLen: 100_000 }, logger),
        }
      : {}),
  });
}
