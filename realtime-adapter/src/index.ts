/**
 * @parley/realtime-adapter: Socket.IO adapters for Parley's gateway. What a server needs, nothing
 * more: a factory for the Redis-streams cluster adapter, one for the single-node adapter, and the
 * recovery hook that a namespace's `connection` handler calls first.
 */
export {
  createMemoryAdapter,
  createRedisAdapter,
  type NamespacePolicy,
  type RedisAdapterOptions,
} from './adapter-factory';
export type { AdapterLogger } from './adapter-logger';
export type { AdapterMetrics } from './adapter-metrics';
export type { LossReason } from './loss-reason';
export { resumeSession, type Resumption } from './session-recovery';
