import { createHash, randomBytes } from 'node:crypto';
import { linkSync, readFileSync, realpathSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
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

function inUse(dir: string, file: string, owner: number | undefined): Error {
  return new Error(
    `data directory ${dir} is in use by another embedded-mongo (process ${owner ?? 'unknown'}, see ${file}); stop it first`,
  );
}

/** The pid in the lock file, given a moment to change if it names a dead process (a takeover in progress). */
async function liveOwner(file: string): Promise<number | undefined> {
  let owner = readOwner(file);
  for (let i = 0; i < 20 && (owner === undefined || !isAlive(owner)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    owner = readOwner(file);
  }
  return owner !== undefined && isAlive(owner) ? owner : undefined;
}

/**
 * On Linux, an abstract Unix socket named after the directory: only one process can bind it, and
 * the kernel releases it when that process dies, however it dies, so it never goes stale.
 * Undefined elsewhere (no abstract sockets).
 */
async function bindGuard(dir: string): Promise<net.Server | undefined> {
  if (process.platform !== 'linux') return undefined;
  const name = `\0embedded-mongo:${createHash('sha256').update(realpathSync(dir)).digest('hex')}`;
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(name, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  return server;
}

/** The lock file with our pid, created complete (written aside, then linked into place). */
function writeLockFile(file: string, guarded: boolean): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, `${process.pid}\n`);
  try {
    try {
      linkSync(tmp, file);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(file);
    // A pid equal to ours but not held by this process is stale too (pids are reused, e.g. as
    // pid 1 in a restarted container).
    if (owner !== undefined && owner !== process.pid && isAlive(owner)) throw inUse(path.dirname(file), file, owner);
    // Stale: replace it whole. With the guard nobody else can be doing the same; without it, two
    // takeovers at once are settled by reading back which one landed last.
    renameSync(tmp, file);
    if (!guarded && readOwner(file) !== process.pid) throw inUse(path.dirname(file), file, readOwner(file));
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // linked and renamed files are gone already
    }
  }
}

/**
 * One server per data directory: a second writer would interleave journal records. The lock file
 * holds the owner's pid, for the message a second server gets; a lock left by a process that no
 * longer runs (killed, crashed) is taken over. On Linux the right to take it over comes from the
 * guard socket (see `bindGuard`), so two processes starting together after a crash cannot both
 * take over the stale file: the one that binds the guard first gets the directory.
 */
export async function lockDirectory(dir: string): Promise<() => void> {
  const file = path.join(dir, LOCK_FILE);
  if (held.has(dir)) throw new Error(`data directory ${dir} is already in use by this process`);
  held.add(dir);
  let guard: net.Server | undefined;
  try {
    try {
      guard = await bindGuard(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      throw inUse(dir, file, await liveOwner(file));
    }
    writeLockFile(file, guard !== undefined);
  } catch (error) {
    held.delete(dir);
    guard?.close();
    throw error;
  }
  return () => {
    held.delete(dir);
    try {
      if (readOwner(file) === process.pid) unlinkSync(file);
    } catch {
      // already gone
    }
    guard?.close();
  };
}
