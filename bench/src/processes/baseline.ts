import { BASELINE_MAIN } from '../paths';
import { spawnServer, type ServerProcess } from './server-process';

export interface Baseline {
  url: string;
  process: ServerProcess;
}

export async function startBaseline(nodeFlags: string[] = []): Promise<Baseline> {
  const { server, ready } = await spawnServer({
    label: 'baseline',
    script: BASELINE_MAIN,
    env: { PATH: process.env['PATH'] ?? '' },
    nodeFlags,
    ready: (line) => /^baseline listening on (\S+)/.exec(line)?.[1],
  });
  return { url: ready, process: server };
}
