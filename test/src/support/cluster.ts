import { MongoClient, type Db } from 'mongodb';
import { startSharedMongo, type SharedMongo } from './mongo-process';
import { startParley, type ParleyProcess } from './parley-process';
import { startRedis, type RedisProcess } from './redis-process';

/** Gateway nodes sharing one database and one Redis, as a scaled-out deployment runs them. */
export interface Cluster {
  redis: RedisProcess;
  mongo: SharedMongo;
  /** A driver connection to the shared database, for checking what is stored. */
  db: Db;
  nodes: ParleyProcess[];
  /** Stops every node still running (a test may have killed some), then the database and Redis. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** How many nodes (default 2). */
  nodes?: number;
  /** Environment for every node, beside the shared MONGODB_URI and REDIS_URL. */
  env?: Record<string, string>;
  /** Environment for one node only (by index), over `env`. */
  nodeEnv?: (index: number) => Record<string, string>;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const redis = await startRedis();
  const mongo = await startSharedMongo();
  const env = { MONGODB_URI: mongo.uri, REDIS_URL: redis.url, ...options.env };
  const nodes = await Promise.all(
    Array.from({ length: options.nodes ?? 2 }, (_, i) => startParley({ env: { ...env, ...options.nodeEnv?.(i) } })),
  );
  const mongoClient = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 5000 });
  await mongoClient.connect();
  return {
    redis,
    mongo,
    db: mongoClient.db(),
    nodes,
    async stop() {
      await mongoClient.close();
      for (const node of nodes) {
        if (node.process.exitCode === null && node.process.signalCode === null) await node.stop();
        node.cleanup();
      }
      await mongo.stop();
      await redis.stop();
    },
  };
}
