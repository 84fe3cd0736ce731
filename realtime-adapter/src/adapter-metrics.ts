import type { LossReason } from './loss-reason';

/**
 * The figures the Redis adapter keeps, shaped so that prom-client gauges and counters fit as they
 * are (the server passes its own `Metrics`); the metric names and help texts are the server's.
 */
export interface AdapterMetrics {
  /** Broadcasts waiting for Redis to carry them to the other nodes. */
  clusterPendingPushes: { set(value: number): void };
  /** Encoded size of the broadcasts waiting for Redis. */
  clusterPendingBytes: { set(value: number): void };
  /** Broadcasts not sent to the other nodes because too many were waiting for Redis. */
  clusterDroppedPushes: { inc(): void };
  /** Times stream entries were trimmed away (or lost by Redis) before this node read them. */
  clusterStreamGaps: { inc(): void };
  /** Loss signals sent to sockets, by namespace and reason. */
  syncReloads: { inc(labels: { namespace: string; reason: LossReason }): void };
}
