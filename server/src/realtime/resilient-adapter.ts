import type { Redis } from 'ioredis';
import type { Namespace, ServerOptions } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import { MemoryRecoveryAdapter } from './memory-adapter';
import { StreamAdapter, type LossReason } from './stream-adapter';
import { StreamLink, type StreamLinkOptions } from './stream-link';

export type { LossReason };

export interface NamespacePolicy {
  /** Connection state recovery (replay of missed packets) on this namespace. */
  recovery: boolean;
}

export interface ResilientAdapterOptions extends StreamLinkOptions {
  /** The namespaces carried between nodes; any other namespace stays on its node. */
  namespaces: Record<string, NamespacePolicy>;
  recoveryWindowMs: number;
  /** The event sent to a namespace's sockets when pushes may have been lost, as `[name, payload]`. */
  lossEvent(reason: LossReason): unknown[];
  publishWaitMs?: number;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
}

/** Socket.IO calls the adapter option with `new`: a plain function returning an object does. */
type AdapterConstructor = NonNullable<ServerOptions['adapter']>;

/**
 * Several nodes over Redis: each listed namespace gets a StreamAdapter (see stream-adapter.ts),
 * all sharing one StreamLink (one writer, one reader connection). `client` must queue commands
 * while disconnected and retry without limit: pushes made during an outage wait in its queue.
 */
export function createResilientAdapter(
  client: Redis,
  options: ResilientAdapterOptions,
  logger: Logger,
  metrics?: Metrics,
): AdapterConstructor {
  let link: StreamLink | undefined;
  return function resilientAdapter(nsp: Namespace) {
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
  } as unknown as AdapterConstructor;
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
  return function memoryAdapter(nsp: Namespace) {
    return namespaces[nsp.name]?.recovery
      ? new MemoryRecoveryAdapter(nsp, recoveryWindowMs, maxPackets)
      : new Adapter(nsp);
  } as unknown as AdapterConstructor;
}
