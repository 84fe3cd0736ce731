import path from 'node:path';
import mongoose, { type Connection } from 'mongoose';
import { startEmbeddedMongo, type EmbeddedMongo } from '@parley/embedded-mongo';
import type { Config } from '../config';
import type { Logger } from './logger';

export interface Database {
  connection: Connection;
  /** Where the data lives, without credentials, for logs and the start banner. */
  description: string;
  /** The in-process embedded server, when no MONGODB_URI was given. */
  embedded?: EmbeddedMongo;
  ping(timeoutMs?: number): Promise<boolean>;
  /** The database server's own clock (`hello.localTime`): the time every node can agree on. */
  serverTime(): Promise<Date>;
  close(): Promise<void>;
}

/** `mongodb://user:pass@host/db` → `mongodb://host/db`, so a URI can be logged. */
export function redactUri(uri: string): string {
  return uri.replace(/\/\/[^@/]*@/, '//');
}

/**
 * Opens the database: MongoDB at MONGODB_URI, or else the embedded MongoDB-compatible server
 * started in this process with its data in DATA_DIR/db. Either way mongoose talks to it through
 * the real driver, over TCP.
 */
export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  let embedded: EmbeddedMongo | undefined;
  let uri = config.mongodbUri;
  let description: string;
  if (uri) {
    description = redactUri(uri);
  } else {
    const dbPath = path.join(config.dataDir, 'db');
    embedded = await startEmbeddedMongo({ dbPath });
    uri = `${embedded.uri}/parley`;
    description = `embedded (${dbPath})`;
  }

  const connection = mongoose.createConnection(uri, {
    // Fail fast instead of queueing commands while disconnected: a request either gets stored and
    // acknowledged, or gets UNAVAILABLE; it never hangs in a buffer.
    bufferCommands: false,
    serverSelectionTimeoutMS: 5000,
    // A database that hangs (connections open, nothing answered) must fail requests too, not hold
    // them. The driver's monitor notices when its check goes unanswered for connectTimeoutMS, and
    // then fails every operation waiting on that server at once; with the defaults (a check every
    // 10 s, 30 s to answer) commands waited 35 to 65 s, past any client's patience. With these,
    // about 15 s at most, and a slow operation on a database that still answers its monitor is
    // never cut short (no socketTimeoutMS: an index build at start may take minutes).
    heartbeatFrequencyMS: 5000,
    connectTimeoutMS: 5000,
    maxPoolSize: 50,
    autoIndex: true,
    autoCreate: true,
  });
  connection.on('disconnected', () => logger.warn('database disconnected'));
  connection.on('reconnected', () => logger.info('database reconnected'));
  try {
    await connection.asPromise();
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  logger.info({ database: description }, 'database connected');

  return {
    connection,
    description,
    ...(embedded ? { embedded } : {}),
    async ping(timeoutMs = 2000) {
      const db = connection.db;
      if (!db || connection.readyState !== 1) return false;
      try {
        await withTimeout(db.command({ ping: 1 }), timeoutMs);
        return true;
      } catch {
        return false;
      }
    },
    async serverTime() {
      const db = connection.db;
      if (!db) throw new Error('database not connected');
      const hello = await withTimeout(db.command({ hello: 1 }), 2000);
      const time: unknown = hello['localTime'];
      if (!(time instanceof Date)) throw new Error('the database does not tell its time');
      return time;
    },
    async close() {
      await connection.close();
      await embedded?.stop();
    },
  };
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
