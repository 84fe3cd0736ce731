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
  const child: ChildProcess = spawn(process.execPath, [EMBEDDED_MONGO_BIN, '--port', '0', '--dbpath', dbPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const match = await waitForLine(child, /listening on (mongodb:\/\/[^\s]+)/, 'embedded-mongo');
  const base = (match[1] as string).replace(/\/$/, '');
  return {
    uri: `${base}/parley`,
    description: `embedded-mongo at ${base}`,
    async stop() {
      await killAndWait(child, 'SIGTERM');
      removeDir(dbPath);
    },
  };
}
