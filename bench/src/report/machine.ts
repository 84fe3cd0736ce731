import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  /** Open-file limit of this process (soft/hard): it bounds how many sockets a server can hold. */
  nofile: string;
}

function nofile(): string {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const parts = line?.split(/\s{2,}/) ?? [];
    return parts.length >= 3 ? `${parts[1]}/${parts[2]}` : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The CPU model as /proc/cpuinfo names it (os.cpus() agrees on Linux, and works elsewhere). */
export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    nofile: nofile(),
  };
}
