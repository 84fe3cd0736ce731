import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Caps the size of any file a running process writes (RLIMIT_FSIZE, the soft limit only, so it
 * can be lifted again without privileges): a disk that fills up at a chosen byte, with no root and
 * no mount. Writes past it fail with EFBIG (Node ignores SIGXFSZ), a short write first when one
 * straddles it. Needs util-linux's `prlimit`.
 */
export function limitFileSize(pid: number, bytes: number | 'unlimited'): void {
  const result = spawnSync('prlimit', ['--pid', String(pid), `--fsize=${bytes}:`], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`prlimit (util-linux) failed: ${result.error?.message ?? result.stderr}`);
  }
}

/** The size of the journal embedded-mongo appends to in `dbPath` (the newest generation's). */
export function journalSize(dbPath: string): number {
  const generations = readdirSync(dbPath)
    .map((f) => /^journal-(\d+)\.bson$/.exec(f)?.[1])
    .filter((g): g is string => g !== undefined)
    .map(Number);
  if (generations.length === 0) throw new Error(`no journal in ${dbPath}`);
  return statSync(path.join(dbPath, `journal-${Math.max(...generations)}.bson`)).size;
}
