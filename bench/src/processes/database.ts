import { randomBytes } from 'node:crypto';
import { EMBEDDED_MONGO_BIN } from '../paths';
import { spawnServer, type ServerProcess } from './server-process';

export interface Database {
  /** URI with the bench's own database name. */
  uri: string;
  /** What the report says about it. */
  description: string;
  /** The standalone embedded-mongo process, when the bench started one. */
  process?: ServerProcess;
  stop(): Promise<void>;
}

/** A database name of the run's own, so a real MongoDB never mixes runs. */
function withDatabaseName(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * MongoDB as a separate process, as in production: the given `MONGODB_URI` (a real MongoDB), or
 * else a standalone embedded-mongo with a journal in `dataDir`.
 */
export async function startDatabase(
  mongodbUri: string | undefined,
  dataDir: string,
  nodeFlags: string[] = [],
): Promise<Database> {
  const name = `parley_bench_${randomBytes(4).toString('hex')}`;
  if (mongodbUri) {
    return {
      uri: withDatabaseName(mongodbUri, name),
      description: `MongoDB at ${new URL(mongodbUri).host} (MONGODB_URI)`,
      stop: async () => undefined,
    };
  }
  const { server, ready } = await spawnServer({
    label: 'embedded-mongo',
    script: EMBEDDED_MONGO_BIN,
    args: ['--port', '0', '--dbpath', dataDir],
    env: { PATH: process.env['PATH'] ?? '' },
    nodeFlags,
    ready: (line) => /listening on (mongodb:\/\/\S+)/.exec(line)?.[1],
  });
  return {
    uri: withDatabaseName(ready, name),
    description: 'embedded-mongo (standalone process, journaled to disk)',
    process: server,
    stop: () => server.stop(),
  };
}
