import { spawn, type ChildProcess } from 'node:child_process';
import { killAndWait, waitForLine } from './child-output';
import { testMongoUri } from './parley-process';
import { EMBEDDED_MONGO_BIN } from './paths';
import { makeTempDir, removeDir } from './temp-dir';

export interface SharedMongo {
  /** Give this to every gateway process as MONGODB_URI. */
  uri: string;
  /** What it is, for failure messages. */
  description: string;
  stop(): Promise<void>;
}

/**
 * One database that several gateway processes share: a fresh database on a real MongoDB when
 * MONGODB_URI is set, else a standalone `embedded-mongo` process (the bin, as operators run it)
 * with a journal in a temporary directory.
 */
export async function startSharedMongo(): Promise<SharedMongo> {
  const real = testMongoUri();
  if (real) return { uri: real, description: 'MongoDB from MONGODB_URI', stop: async () => undefined };
  const dbPath = makeTempDir('parley-mongo-');
  const mongo = await startMongoProcess(dbPath);
  return {
    uri: `${mongo.uri}/parley`,
    description: `embedded-mongo at ${mongo.uri}`,
    async stop() {
      await mongo.stop();
      removeDir(dbPath);
    },
  };
}

export interface MongoProcess {
  /** `mongodb://127.0.0.1:<port>`, without a database name. */
  uri: string;
  port: number;
  pid: number;
  dbPath: string;
  process: ChildProcess;
  /** Everything it printed (its log goes to stderr), for failure messages. */
  output(): string;
  /** SIGTERM: a clean stop (the journal flushed, the directory's lock released). */
  stop(): Promise<void>;
  /** SIGKILL: a crash; what was acknowledged must still be in `dbPath` for the next start. */
  kill(): Promise<void>;
}

/**
 * A standalone `embedded-mongo` process (the bin, as operators run it) on `dbPath`, which outlives
 * it: a test can stop or kill it and start another on the same directory. Not for MONGODB_URI.
 */
export async function startMongoProcess(dbPath: string, options: { port?: number } = {}): Promise<MongoProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [EMBEDDED_MONGO_BIN, '--port', String(options.port ?? 0), '--dbpath', dbPath],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const match = await waitForLine(child, /listening on (mongodb:\/\/[^\s]+)/, 'embedded-mongo');
  const uri = (match[1] as string).replace(/\/$/, '');
  return {
    uri,
    port: Number(new URL(uri).port),
    pid: child.pid as number,
    dbPath,
    process: child,
    output: () => output,
    stop: () => killAndWait(child, 'SIGTERM'),
    kill: () => killAndWait(child, 'SIGKILL'),
  };
}
