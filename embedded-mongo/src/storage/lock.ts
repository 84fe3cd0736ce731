import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

const LOCK_FILE = 'embedded-mongo.lock';
/** Directories this process holds, so a second server in the same process is refused too. */
const held = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One server per data directory: a second writer would interleave journal records. The lock file
 * holds the owner's pid; a lock left by a process that no longer runs (killed, crashed) is taken
 * over. A pid equal to ours but not held by this process is stale too (pids are reused, e.g. as
 * pid 1 in a restarted container).
 */
export function lockDirectory(dir: string): () => void {
  const file = path.join(dir, LOCK_FILE);
  if (held.has(dir)) throw new Error(`data directory ${dir} is already in use by this process`);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      held.add(dir);
      return () => {
        held.delete(dir);
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = readOwner(file);
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
        throw new Error(
          `data directory ${dir} is in use by another embedded-mongo (process ${owner}, see ${file}); stop it first`,
        );
      }
      try {
        unlinkSync(file);
      } catch {
        // someone else removed it first; try again
      }
    }
  }
  throw new Error(`could not lock data directory ${dir} (${file})`);
}
