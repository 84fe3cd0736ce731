import { MongoClient, type Db } from 'mongodb';
import { startEmbeddedMongo, type EmbeddedMongo } from '@parley/embedded-mongo';
import { testMongoUri } from './parley-process';

export interface TestDatabase {
  /** Give this to the server as MONGODB_URI. */
  uri: string;
  /** The same database, for checking what the server stored. */
  db: Db;
  stop(): Promise<void>;
}

/**
 * A database that both the server under test and the test itself can reach: a real MongoDB when
 * MONGODB_URI is set (a fresh database on it), else an embedded-mongo server in the test process.
 */
export async function startDatabase(): Promise<TestDatabase> {
  let embedded: EmbeddedMongo | undefined;
  let uri = testMongoUri();
  if (!uri) {
    embedded = await startEmbeddedMongo();
    uri = `${embedded.uri}/parley`;
  }
  const mongo = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  await mongo.connect();
  const db = mongo.db();
  return {
    uri,
    db,
    async stop() {
      if (!embedded) await db.dropDatabase().catch(() => undefined);
      await mongo.close();
      await embedded?.stop();
    },
  };
}
