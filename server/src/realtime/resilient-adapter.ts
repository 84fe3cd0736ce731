import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Redis } from 'ioredis';
import type { Namespace, ServerOptions } from 'socket.io';
import type { Logger } from '../infra/logger';

/** How long a broadcast waits for Redis before it is delivered on this node anyway. */
const PUBLISH_WAIT_MS = 1000;
/** How long a reconnecting socket waits for Redis to restore its session before starting afresh. */
const RESTORE_WAIT_MS = 2000;
/** Broadcasts waiting for Redis beyond this are dropped (and logged) rather than exhausting memory. */
const MAX_PENDING_PUBLISHES = 200_000;
/** socket.io-adapter's MessageType.BROADCAST. */
const BROADCAST = 3;
/**
 * Offset handed to local sockets for a packet that is not (yet) in the stream. A socket holding it
 * cannot have its session restored from the stream, so it is told to reload instead; that is the
 * honest answer, since the stream may not hold everything sent while Redis was away.
 */
const UNRECORDED_OFFSET = '0-0';

interface ClusterMessage {
  uid?: string;
  type: number;
  data?: { requestId?: string; pub?: number; [key: string]: unknown };
}

/** The parts of socket.io-adapter's ClusterAdapter that this wrapper hooks into. */
interface ClusterAdapterHooks {
  uid: string;
  doPublish(message: ClusterMessage): Promise<string>;
  onMessage(message: ClusterMessage, offset?: string): void;
  restoreSession(pid: string, offset: string): Promise<unknown>;
}

/** The streams adapter's own options (stream name, length cap, XREAD block time…). */
export type ResilientAdapterOptions = NonNullable<Parameters<typeof createAdapter>[1]>;

/**
 * The Redis streams adapter, made to ride out a Redis outage:
 *
 * - A broadcast never waits on Redis for more than a moment before reaching this node's sockets:
 *   same-node delivery goes on while Redis is down.
 * - Broadcasts made meanwhile stay queued, in order, in the adapter client's offline queue (the
 *   client must keep one and retry without limit) and reach the other nodes when Redis returns.
 * - A command that was in flight when the connection dropped is re-sent on reconnect; if Redis had
 *   already executed it, other nodes would see it twice. Every broadcast therefore carries its
 *   sender's sequence number, and receivers drop one they have already passed. A sender's commands
 *   travel one connection in order (re-sent ones first), so its numbers only ever go up.
 * - Restoring a session needs Redis; while it is away a reconnecting socket gets a fresh session at
 *   once (and the client reloads over REST) instead of hanging.
 */
export function createResilientAdapter(
  client: Redis,
  options: ResilientAdapterOptions,
  logger: Logger,
): ServerOptions['adapter'] {
  const factory = createAdapter(client, options);
  let pending = 0;
  let dropped = 0;
  // Socket.IO calls this with `new`: a plain function returning an object, as createAdapter's own.
  return function resilientAdapter(nsp: Namespace) {
    const created = factory(nsp);
    const adapter = created as unknown as ClusterAdapterHooks;
    const publish = adapter.doPublish.bind(adapter);
    const receive = adapter.onMessage.bind(adapter);
    const restore = adapter.restoreSession.bind(adapter);
    let sent = 0;
    const lastSeen = new Map<string, number>();

    adapter.doPublish = (message) => {
      const ordinary = message.type === BROADCAST && message.data && message.data.requestId === undefined;
      if (!ordinary) return publish(message);
      if (pending >= MAX_PENDING_PUBLISHES) {
        if (dropped++ % 10_000 === 0) logger.error({ dropped }, 'redis away too long: cross-node broadcasts dropped');
        return Promise.resolve(UNRECORDED_OFFSET);
      }
      message.data = { ...message.data, pub: ++sent };
      pending++;
      const written = publish(message).finally(() => pending--);
      if (client.status !== 'ready') {
        written.catch((error: unknown) => logger.warn({ err: error }, 'broadcast not published to redis'));
        return Promise.resolve(UNRECORDED_OFFSET);
      }
      return raceTimeout(written, PUBLISH_WAIT_MS, UNRECORDED_OFFSET);
    };

    adapter.onMessage = (message, offset) => {
      const pub = message.data?.pub;
      if (message.type === BROADCAST && typeof pub === 'number' && message.uid) {
        if (pub <= (lastSeen.get(message.uid) ?? 0)) return;
        // A restarted node has a new uid; old ones are few and tiny, so they are simply kept.
        lastSeen.set(message.uid, pub);
      }
      receive(message, offset);
    };

    adapter.restoreSession = (pid, offset) => {
      if (client.status !== 'ready') return Promise.reject(new Error('redis unavailable'));
      return raceTimeout(restore(pid, offset), RESTORE_WAIT_MS, undefined).then((session) =>
        session === undefined ? Promise.reject(new Error('redis too slow')) : session,
      );
    };
    return created;
  } as unknown as ServerOptions['adapter'];
}

/** `promise`'s value, or `fallback` if it takes longer than `ms`; a later failure is only logged away. */
function raceTimeout<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}
