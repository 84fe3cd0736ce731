import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { SERVER_MAIN } from './paths';
import { makeTempDir, removeDir } from './temp-dir';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/** Generous: on a loaded 2-core machine a start (the build already done) has taken over 20 s. */
const START_TIMEOUT_MS = 60_000;

export interface ParleyProcess {
  url: string;
  port: number;
  dataDir: string;
  env: Record<string, string>;
  process: ChildProcess;
  /** Everything the process printed, for failure messages. */
  output(): string;
  /** Resolves once the process has printed `text`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM and wait for a clean exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash, nothing flushed. */
  kill(): Promise<void>;
  /** Remove the data directory (when the test made it). */
  cleanup(): void;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Reuse a data directory (to restart on the same data). */
  dataDir?: string;
  timeoutMs?: number;
  /** Another build of the server to run (a copy installed elsewhere); `server/dist/main.js` by default. */
  main?: string;
  /** Options for node itself, before the script (e.g. `--require` of a preload). */
  nodeArgs?: string[];
}

/**
 * A database of its own for each server when the suite runs against a real MongoDB
 * (`MONGODB_URI=mongodb://host:27017 npm test`), so tests never see each other's data.
 */
export function testMongoUri(base = process.env['MONGODB_URI']): string | undefined {
  if (!base) return undefined;
  const uri = withDatabase(base, `parley_test_${randomBytes(6).toString('hex')}`);
  createdDatabases.add(uri);
  return uri;
}

/**
 * The connection string with its database replaced. Not through `URL`: a string that lists several
 * hosts (`mongodb://h1:27017,h2:27017/?replicaSet=rs0`) is not a URL.
 */
export function withDatabase(uri: string, database: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(?:\/[^?]*)?(\?.*)?$/.exec(uri);
  if (!match) throw new Error(`MONGODB_URI is not a MongoDB connection string: ${uri}`);
  return `${match[1]}/${database}${match[2] ?? ''}`;
}

/** Every database `testMongoUri` named in this test file: dropped after it (see after-suite.ts). */
const createdDatabases = new Set<string>();

export function takeCreatedDatabases(): string[] {
  const uris = [...createdDatabases];
  createdDatabases.clear();
  return uris;
}

/**
 * With `REDIS_URL` set (`REDIS_URL=redis://host:6379 npm test`), every test server that does not
 * bring its own Redis uses that one, under a key prefix of its own so that tests never share rate
 * limits or streams. Tests that stop or stall Redis start their own and pass it explicitly.
 */
function sharedRedisEnv(): Record<string, string> {
  const url = process.env['REDIS_URL'];
  if (!url) return {};
  return { REDIS_URL: url, REDIS_KEY_PREFIX: `parley_test:${randomBytes(6).toString('hex')}:` };
}

/**
 * The settings every test server starts with, in a process of its own (`startParley`) or in the
 * test's process (`startServer(loadConfig(...))`): a local port, a data directory, the test admin
 * token, and limits out of the way of tests that are not about them.
 */
export function testServerEnv(dataDir: string): Record<string, string> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    JWT_SECRET: 'test-jwt-secret-0123456789abcdef0123456789',
    SEED_DEMO: 'false',
    // Tests sign in and send a lot from one address; the limits get tests of their own.
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: '100000',
    RATE_LIMIT_MESSAGES_PER_MINUTE: '100000',
    RATE_LIMIT_LOGIN_PER_MINUTE: '100000',
    RATE_LIMIT_COMMANDS_PER_MINUTE: '100000',
    RATE_LIMIT_CONVERSATIONS_PER_MINUTE: '100000',
    RATE_LIMIT_ACTIVITY_PER_MINUTE: '100000',
    // Tests create hundreds of agents; OWASP's cost (0.3 s and 128 MiB a hash) is checked by tests
    // of its own. Honoured outside production only (see PASSWORD_SCRYPT_N in the README).
    PASSWORD_SCRYPT_N: '16384',
    SOCKETS_PER_USER: '100000',
    SOCKETS_PER_ADDRESS: '100000',
  };
}

/**
 * Starts `node server/dist/main.js` as a real process on a free port and waits for its
 * `listening` log line. Without MONGODB_URI it runs on its embedded database in `dataDir`.
 */
export async function startParley(options: StartOptions = {}): Promise<ParleyProcess> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? makeTempDir();
  const mongodbUri = testMongoUri();
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    ...testServerEnv(dataDir),
    LOG_LEVEL: 'info',
    ...(mongodbUri ? { MONGODB_URI: mongodbUri } : {}),
    ...(options.env?.['REDIS_URL'] ? {} : sharedRedisEnv()),
    ...options.env,
  };
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.main ?? SERVER_MAIN], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let exited = false;
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exited = true;
      resolve(code);
    }),
  );

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running: a late start would hold the data directory (and its port) of the retry.
      child.kill('SIGKILL');
      reject(new Error(`server did not start in time:\n${output}`));
    }, options.timeoutMs ?? START_TIMEOUT_MS);
    let scanned = 0;
    let found = false;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (found) return;
      // Only whole lines not yet looked at: the output of a long test can be large.
      const end = output.lastIndexOf('\n');
      if (end < scanned) return;
      const lines = output.slice(scanned, end).split('\n');
      scanned = end + 1;
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: number };
          if (entry.msg === 'listening' && typeof entry.port === 'number') {
            found = true;
            clearTimeout(timer);
            resolve(entry.port);
            return;
          }
        } catch {
          // not a log line
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    env,
    process: child,
    output: () => output,
    async waitForOutput(text, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (Date.now() > deadline) throw new Error(`"${text}" not printed:\n${output}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      if (exited) return exit;
      child.kill('SIGTERM');
      return exit;
    },
    async kill() {
      if (exited) return;
      child.kill('SIGKILL');
      await exit;
    },
    cleanup() {
      if (ownsDataDir) removeDir(dataDir);
    },
  };
}
