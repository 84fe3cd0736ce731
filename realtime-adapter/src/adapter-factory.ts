import type { Redis } from 'ioredis';
import type { Namespace } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import type { AdapterLogger } from './adapter-logger';
import type { AdapterMetrics } from './adapter-metrics';
import type { LossReason } from './loss-reason';
import { MemoryRecoveryAdapter } from './memory-adapter';
import { adapterConstructor, type AdapterConstructor } from './socket-io-internals';
import { StreamAdapter } from './stream-adapter';
import { StreamLink, type StreamLinkOptions } from './stream-link';

export interface NamespacePolicy {
  /** Connection state recovery (replay of missed packets) on this namespace. */
  recovery: boolean;
}

export interface RedisAdapterOptions extends StreamLinkOptions {
  /** The namespaces carried between nodes; any other namespace stays on its node. */
  namespaces: Record<string, NamespacePolicy>;
  recoveryWindowMs: number;
  /** The event sent to a namespace's sockets when pushes may have been lost, as `[name, payload]`. */
  lossEvent(reason: LossReason): unknown[];
  publishWaitMs?: number;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
}

/**
 * Several nodes over Redis: each listed namespace gets a StreamAdapter (see stream-adapter.ts),
 * all sharing one StreamLink (one writer, one reader connection). `client` must queue commands
 * while disconnected and retry without limit: pushes made during an outage wait in its queue.
 */
export function createRedisAdapter(
  client: Redis,
  options: RedisAdapterOptions,
  logger: AdapterLogger,
  metrics?: AdapterMetrics,
): AdapterConstructor {
  let link: StreamLink | undefined;
  return adapterConstructor((nsp: Namespace) => {
    const policy = options.namespaces[nsp.name];
    if (!policy) return new Adapter(nsp);
    // Created with the first namespace, so that a factory never used opens no connection.
    link ??= new StreamLink(client, options, logger, metrics);
    return new StreamAdapter(
      nsp,
      link,
      {
        recovery: policy.recovery,
        recoveryWindowMs: options.recoveryWindowMs,
        lossEvent: options.lossEvent,
        publishWaitMs: options.publishWaitMs ?? 1_000,
        heartbeatIntervalMs: options.heartbeatIntervalMs ?? 5_000,
        heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 10_000,
      },
      logger,
      metrics,
    );
  });
}

/**
 * A single node: namespaces with recovery keep their recent packets and dropped sessions in
 * memory (see memory-adapter.ts); the others keep nothing.
 */
export function createMemoryAdapter(
  namespaces: Record<string, NamespacePolicy>,
  recoveryWindowMs: number,
  maxPackets: number,
): AdapterConstructor {
  return adapterConstructor((nsp: Namespace) =>
    namespaces[nsp.name]?.recovery ? new MemoryRecoveryAdapter(nsp, recoveryWindowMs, maxPackets) : new Adapter(nsp),
  );
}
