import { spawn, type ChildProcess } from 'node:child_process';
import { PROBE } from '../paths';
import type { ProbeReply } from './probe';

export interface ServerProcess {
  process: ChildProcess;
  output(): string;
  /** Heap and RSS after a full GC, asked of the process itself through the probe. */
  probe(): Promise<ProbeReply>;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  script: string;
  args?: string[];
  env: Record<string, string>;
  /** Resolves with what `ready` extracts from the output, once it returns something. */
  ready: (line: string) => string | undefined;
  /** Extra node flags (`--cpu-prof` …). */
  nodeFlags?: string[];
  timeoutMs?: number;
  label: string;
}

/**
 * Starts a node process with the probe preloaded and an IPC channel, and waits for the line that
 * says it is ready. Output is kept (bounded) for error messages.
 */
export async function spawnServer(options: SpawnOptions): Promise<{ server: ServerProcess; ready: string }> {
  const args = ['--expose-gc', '-r', PROBE, ...(options.nodeFlags ?? []), options.script, ...(options.args ?? [])];
  const child = spawn(process.execPath, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${options.label} did not start in time:\n${output}`)),
      options.timeoutMs ?? 30_000,
    );
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const found = options.ready(line);
        if (found !== undefined) {
          clearTimeout(timer);
          child.stdout?.off('data', onData);
          resolve(found);
          return;
        }
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.stdout?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${options.label} exited with ${code} before it was ready:\n${output}`));
    });
  });

  const server: ServerProcess = {
    process: child,
    output: () => output,
    probe: () =>
      new Promise<ProbeReply>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${options.label}: no probe reply`)), 30_000);
        const onMessage = (message: unknown) => {
          if ((message as { type?: string }).type !== 'probe') return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(message as ProbeReply);
        };
        child.on('message', onMessage);
        child.send({ type: 'probe' });
      }),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
  return { server, ready };
}
