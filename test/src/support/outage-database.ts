import { MongoClient, type Document } from 'mongodb';
import { startChaosProxy, type ChaosProxy } from './chaos-proxy';
import { startMongoProcess, type MongoProcess } from './mongo-process';
import { startMongoWireProxy, type MongoWireProxy } from './mongo-wire-proxy';
import { testMongoUri } from './parley-process';
import { makeTempDir, removeDir } from './temp-dir';

/**
 * A database that a test can take away from a gateway and give back, behind two proxies:
 * the gateway → a wire proxy (to hold back one chosen reply) → a TCP proxy (to refuse or stall
 * every connection) → the database. Without MONGODB_URI the database is a standalone
 * `embedded-mongo` process, and "away" also kills it (SIGKILL) and "back" starts another on the
 * same data directory, so whatever was acknowledged must have been on disk. With MONGODB_URI (one
 * host) the network to it is cut instead: the test cannot stop someone else's MongoDB.
 */
export interface OutageDatabase {
  /** The gateway's MONGODB_URI: through both proxies. */
  uri: string;
  /** What it is, for failure messages. */
  description: string;
  wire: MongoWireProxy;
  /** Connections are refused (live ones reset); the embedded-mongo process is killed. */
  goAway(): Promise<void>;
  /** Connections stay open and new ones are accepted, but nothing goes through: a hung database. */
  stall(): void;
  /** Connections go through again (to a restarted embedded-mongo on the same data). */
  comeBack(): Promise<void>;
  /** Runs `body` on the database itself (not through the proxies), for checking what is stored. */
  read<T>(body: (db: ReturnType<MongoClient['db']>) => Promise<T>): Promise<T>;
  /** Everything the embedded-mongo processes printed, for failure messages. */
  output(): string;
  close(): Promise<void>;
}

/** `mongodb://[credentials@]host:port/db?options` → its parts; one host only. */
function singleHost(uri: string): { host: string; port: number; rest: string; credentials: string } {
  const match = /^mongodb:\/\/([^@/]*@)?([^/?,:]+)(?::(\d+))?(\/.*)?$/.exec(uri);
  if (!match) throw new Error(`the outage tests need a one-host mongodb:// MONGODB_URI to proxy (got ${uri})`);
  return {
    credentials: match[1] ?? '',
    host: match[2] as string,
    port: Number(match[3] ?? 27017),
    rest: match[4] ?? '/parley',
  };
}

export async function startOutageDatabase(): Promise<OutageDatabase> {
  const real = testMongoUri();
  const dbPath = real ? undefined : makeTempDir('parley-outage-');
  let mongo: MongoProcess | undefined = dbPath ? await startMongoProcess(dbPath) : undefined;
  let output = '';
  const target = real
    ? singleHost(real)
    : { host: '127.0.0.1', port: mongo?.port as number, rest: '/parley', credentials: '' };
  const tcp: ChaosProxy = await startChaosProxy(target.port, target.host);
  const wire = await startMongoWireProxy(tcp.port);
  const uri = `mongodb://${target.credentials}127.0.0.1:${new URL(wire.uri).port}${target.rest}`;

  return {
    uri,
    description: real ? 'MongoDB from MONGODB_URI' : `embedded-mongo on ${dbPath}`,
    wire,
    async goAway() {
      tcp.refuse();
      if (mongo) {
        await mongo.kill();
        output += mongo.output();
      }
    },
    stall() {
      tcp.stallAll();
    },
    async comeBack() {
      if (dbPath && (!mongo || mongo.process.exitCode !== null || mongo.process.signalCode !== null)) {
        mongo = await startMongoProcess(dbPath);
        tcp.retarget(mongo.port);
      }
      tcp.resume();
    },
    async read(body) {
      // The embedded-mongo process of now: a restart moved it to another port.
      const client = new MongoClient(real ?? `${mongo?.uri}/parley`, { serverSelectionTimeoutMS: 5000 });
      try {
        await client.connect();
        return await body(client.db());
      } finally {
        await client.close();
      }
    },
    output: () => output + (mongo?.output() ?? ''),
    async close() {
      await wire.close();
      await tcp.close();
      if (mongo) await mongo.stop();
      if (dbPath) removeDir(dbPath);
    },
  };
}

/** The messages of a conversation as stored, in seq order. */
export function storedMessages(db: ReturnType<MongoClient['db']>, conversationId: string): Promise<Document[]> {
  return db.collection('messages').find({ conversationId }).sort({ seq: 1 }).toArray();
}
