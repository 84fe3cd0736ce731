import { spawn, type ChildProcess } from 'node:child_process';
import { killAndWait, waitForLine } from './child-output';
import { freePort } from './free-port';

export interface RedisProcess {
  url: string;
  port: number;
  /** Starts it (after `startRedis({ deferred: true })`, or after `kill`), empty. */
  start(): Promise<void>;
  /** SIGKILL: Redis vanishes mid-conversation, with nothing saved (it keeps nothing on disk). */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty, as after a crash without persistence; else from its append-only file). */
  restart(): Promise<void>;
  /** SIGSTOP: Redis stops answering but its connections stay open (a stall, a hung host). */
  pause(): void;
  /** SIGCONT: it answers again, with everything it held. */
  resume(): void;
  stop(): Promise<void>;
}

/**
 * A `redis-server` of the test's own on a free port, never the machine's shared one on 6379: tests
 * kill, stall and restart it, and must not see (or wipe) anyone else's keys. `deferred` reserves
 * the port only, for nodes that start before Redis does.
 */
export async function startRedis(options: { deferred?: boolean; appendOnlyDir?: string } = {}): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let paused = false;
  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', ''];
    // With `appendOnlyDir`, every write is in the append-only file before it is answered, and a
    // restart (after a SIGKILL too) loads it back: what a persistent production Redis comes back with.
    if (options.appendOnlyDir)
      args.push('--appendonly', 'yes', '--appendfsync', 'always', '--dir', options.appendOnlyDir);
    else args.push('--appendonly', 'no');
    const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    started.once('error', () => undefined); // reported by waitForLine through 'exit'
    await waitForLine(started, /Ready to accept connections/, 'redis-server');
    child = started;
    paused = false;
  };
  const end = async (signal: NodeJS.Signals) => {
    if (!child) return;
    // A stopped process does not act on SIGTERM until it is continued. SIGKILL needs no SIGCONT, and
    // must not get one: Redis would answer what was sent during the stall before dying.
    if (paused && signal !== 'SIGKILL') child.kill('SIGCONT');
    await killAndWait(child, signal);
    child = undefined;
    paused = false;
  };
  if (!options.deferred) await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      if (!child) await launch();
    },
    kill: () => end('SIGKILL'),
    async restart() {
      await end('SIGKILL');
      await launch();
    },
    pause() {
      if (child && !paused) child.kill('SIGSTOP');
      paused = true;
    },
    resume() {
      if (child && paused) child.kill('SIGCONT');
      paused = false;
    },
    stop: () => end('SIGTERM'),
  };
}
