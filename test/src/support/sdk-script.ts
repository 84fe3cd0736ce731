import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './paths';

export interface ScriptOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Everything printed, stdout and stderr together, for failure messages. */
  output: string;
  /** The JSON of the last line starting with `RESULT `, if any. */
  result: unknown;
}

/**
 * Runs one of the scripts of `test/src/child/` (as built into `test/dist/child/`) in a Node process
 * of its own, on the built SDK, the way an application uses it. `--unhandled-rejections=strict`
 * makes any unhandled rejection end the process with an error, which jest itself would hide
 * (it intercepts `unhandledRejection` in the test process).
 */
export function runSdkScript(
  name: string,
  env: Record<string, string>,
  options: { timeoutMs?: number; onLine?: (line: string, child: ChildProcess) => void } = {},
): Promise<ScriptOutcome> {
  const file = path.join(REPO_ROOT, 'test', 'dist', 'child', `${name}.js`);
  const child = spawn(process.execPath, ['--unhandled-rejections=strict', file], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let pending = '';
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) options.onLine?.(line, child);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not exit within ${options.timeoutMs ?? 60_000} ms:\n${output}`));
    }, options.timeoutMs ?? 60_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const resultLine = output
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('RESULT '));
      resolve({ code, signal, output, result: resultLine ? JSON.parse(resultLine.slice(7)) : undefined });
    });
  });
}
