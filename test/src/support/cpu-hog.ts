import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface CpuHog {
  stop(): Promise<void>;
}

/**
 * A busy process per core, so a test runs on a machine short of CPU (timers late, socket reads
 * batched, writes interleaved differently). Each spins in slices and exits by itself once its
 * parent is gone, so a crashed test run leaves nothing spinning.
 */
const SPIN = `
const parent = process.ppid;
for (;;) {
  const until = Date.now() + 50;
  while (Date.now() < until);
  if (process.ppid !== parent) process.exit(0);
}`;

export function startCpuHog(processes = availableParallelism()): CpuHog {
  const children: ChildProcess[] = Array.from({ length: processes }, () =>
    spawn(process.execPath, ['-e', SPIN], { stdio: 'ignore' }),
  );
  return {
    async stop() {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}

/** `CHAOS_CPU_HOG=1`: chaos tests run next to a CPU hog. */
export function cpuHogFromEnv(env: NodeJS.ProcessEnv = process.env): CpuHog | undefined {
  return env['CHAOS_CPU_HOG'] === '1' ? startCpuHog() : undefined;
}
