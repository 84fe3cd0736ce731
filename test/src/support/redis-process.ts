import { spawn, type ChildProcess } from 'node:child_process';
import { killAndWait, waitForLine } from './child-output';
import { freePort } from './free-port';

export interface RedisProcess {
  url: string;
  port: number;
  /** SIGKILL: Redis vanishes mid-conversation, with nothing saved (it keeps nothing on disk). */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty, as after a crash without persistence). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A `redis-server` of the test's own on a free port, never the machine's shared one on 6379: tests
 * kill and restart it, and must not see (or wipe) anyone else's keys.
 */
export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    started.once('error', () => undefined); // reported by waitForLine through 'exit'
    await waitForLine(started, /Ready to accept connections/, 'redis-server');
    child = started;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async kill() {
      if (child) await killAndWait(child, 'SIGKILL');
      child = undefined;
    },
    async restart() {
      if (child) await killAndWait(child, 'SIGKILL');
      await launch();
    },
    async stop() {
      if (child) await killAndWait(child, 'SIGTERM');
      child = undefined;
    },
  };
}
