import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { encodeRecord, type JournalRecord } from './records';

export const snapshotFile = (generation: number): string => `snapshot-${generation}.bson`;
export const journalFile = (generation: number): string => `journal-${generation}.bson`;

/** What a compaction needs from the journal that started it. */
export interface CompactionTarget {
  dir: string;
  /** The generation being written: `snapshot-N.bson`, the state when `journal-N.bson` began. */
  generation: number;
  /** Frozen records of that state, read lazily (stored documents are immutable, so they stay valid). */
  state: Iterator<JournalRecord>;
  /** Most bytes encoded per turn of the event loop. */
  chunkBytes: number;
}

/**
 * Longest a turn may spend encoding. Bytes alone do not bound it: a megabyte of small documents is
 * thousands of BSON encodings, 50 to 150 ms on a busy machine, and every command waits that long.
 */
const CHUNK_BUDGET_MS = 4;

class Cancelled extends Error {}

/**
 * Writes a snapshot in the background: a chunk of records at a time, each written with an
 * asynchronous write, so commands are answered between chunks; then fsync, rename into place,
 * fsync the directory, and delete the older generations' files. The journal already sends new
 * writes to `journal-N.bson`, so a crash at any point leaves either the old snapshot with every
 * journal since it (replayed in order), or the new complete snapshot with its own journal.
 */
export class Compaction {
  /** Settles once the compaction has finished, failed or been cancelled: the snapshot's size, or undefined. */
  readonly done: Promise<number | undefined>;
  private cancelled = false;

  constructor(
    private readonly target: CompactionTarget,
    log: (message: string) => void,
  ) {
    this.done = this.run().then(
      (bytes) => bytes,
      (error: unknown) => {
        if (!(error instanceof Cancelled)) {
          log(
            `compaction into ${snapshotFile(target.generation)} failed (${error instanceof Error ? error.message : String(error)}); the journal still holds everything`,
          );
        }
        return undefined;
      },
    );
  }

  /** Stops at the next chunk and removes the partial file; the journals still hold everything. */
  cancel(): void {
    this.cancelled = true;
  }

  private async run(): Promise<number> {
    const { dir, generation } = this.target;
    const tmp = path.join(dir, `${snapshotFile(generation)}.tmp`);
    let bytes: number;
    try {
      bytes = await this.write(tmp);
    } catch (error) {
      await fsp.unlink(tmp).catch(() => undefined);
      throw error;
    }
    this.check();
    await fsp.rename(tmp, path.join(dir, snapshotFile(generation)));
    await syncDirectory(dir);
    // Only now are the older generations unneeded: the new snapshot covers all they held.
    for (const file of await fsp.readdir(dir)) {
      const match = /^(?:snapshot|journal)-(\d+)\.bson$/.exec(file);
      if (match && Number(match[1]) < generation) await fsp.unlink(path.join(dir, file)).catch(() => undefined);
    }
    return bytes;
  }

  private async write(tmp: string): Promise<number> {
    const handle = await fsp.open(tmp, 'w');
    let bytes = 0;
    try {
      for (let finished = false; !finished;) {
        this.check();
        const chunk: Buffer[] = [];
        let size = 0;
        const started = performance.now();
        while (size < this.target.chunkBytes && performance.now() - started < CHUNK_BUDGET_MS) {
          const next = this.target.state.next();
          if (next.done) {
            finished = true;
            break;
          }
          const encoded = encodeRecord(next.value);
          chunk.push(encoded);
          size += encoded.length;
        }
        const data = Buffer.concat(chunk, size);
        for (let written = 0; written < data.length;) {
          written += (await handle.write(data, written, data.length - written)).bytesWritten;
        }
        bytes += size;
      }
      this.check();
      await handle.sync();
    } finally {
      await handle.close();
    }
    return bytes;
  }

  private check(): void {
    if (this.cancelled) throw new Cancelled();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await fsp.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // not every platform can fsync a directory
  }
}
