import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { deserialize, serialize, type Document } from 'bson';
import { toBuffer } from '../bytes';
import { lockDirectory } from './lock';

/** One journaled change. Each record sets state outright (put, delete, drop), so replay is simple. */
export type JournalRecord =
  | { o: 'put'; d: string; c: string; doc: Document }
  | { o: 'del'; d: string; c: string; id: unknown }
  | { o: 'mkcoll'; d: string; c: string; opts: Document }
  | { o: 'dropcoll'; d: string; c: string }
  | { o: 'dropdb'; d: string }
  | { o: 'mkidx'; d: string; c: string; spec: Document }
  | { o: 'dropidx'; d: string; c: string; n: string };

/** Stored values read back exactly as the wire delivers them (see wire-protocol.ts). */
export const DESERIALIZE_OPTIONS = {
  promoteLongs: true,
  promoteValues: true,
  promoteBuffers: false,
  bsonRegExp: true,
} as const;

const SERIALIZE_OPTIONS = { checkKeys: false, ignoreUndefined: false } as const;

/** A record as journaled; throws (a RangeError) on a document bson cannot encode. */
export function encodeRecord(record: JournalRecord): Buffer {
  return toBuffer(serialize(record, SERIALIZE_OPTIONS));
}

const snapshotFile = (generation: number) => `snapshot-${generation}.bson`;
const journalFile = (generation: number) => `journal-${generation}.bson`;

export interface JournalOptions {
  /** A journal at least this large is compacted when it also outgrows twice the last snapshot. */
  compactThresholdBytes?: number;
  log?: (message: string) => void;
}

/** Reads concatenated BSON documents; a torn last one (a crash mid-write) ends the list. */
function readRecords(
  file: string,
  log: (m: string) => void,
): { records: JournalRecord[]; validBytes: number; size: number } {
  let buffer: Buffer;
  try {
    buffer = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], validBytes: 0, size: 0 };
    throw error;
  }
  const records: JournalRecord[] = [];
  let offset = 0;
  while (offset + 5 <= buffer.length) {
    const size = buffer.readInt32LE(offset);
    if (size < 5 || offset + size > buffer.length || buffer[offset + size - 1] !== 0) break;
    try {
      records.push(deserialize(buffer.subarray(offset, offset + size), DESERIALIZE_OPTIONS) as JournalRecord);
    } catch {
      break;
    }
    offset += size;
  }
  if (offset < buffer.length) {
    log(
      `${path.basename(file)}: ignoring ${buffer.length - offset} bytes after the last complete record (a write cut short)`,
    );
  }
  return { records, validBytes: offset, size: buffer.length };
}

/**
 * Persistence for a data directory: a snapshot plus an append-only journal of the acknowledged
 * writes since it, both numbered by a generation. The records of one command are written with one
 * synchronous write before the command is answered, so a SIGKILL after an acknowledgement loses
 * nothing (the kernel has the bytes; fsync is left to compaction, as power loss is not what this
 * protects against). Compaction writes the whole state to the next generation's snapshot (a temp
 * file, fsynced, then renamed), starts that generation's empty journal, and only then deletes the
 * old generation: whichever file a crash leaves, the newest complete snapshot and its own journal
 * hold everything, and nothing is ever replayed twice.
 */
export class Journal {
  private fd: number | undefined;
  private generation = 0;
  private pending: Buffer[] = [];
  private journalBytes = 0;
  private snapshotBytes = 0;
  private unlock: (() => void) | undefined;
  private failure: Error | undefined;
  private readonly compactThreshold: number;
  private readonly log: (message: string) => void;

  constructor(
    readonly dir: string,
    options: JournalOptions = {},
  ) {
    this.compactThreshold = options.compactThresholdBytes ?? 64 * 1024 * 1024;
    this.log = options.log ?? (() => undefined);
  }

  /** Takes the directory's lock and returns the records to replay, snapshot first. */
  open(): JournalRecord[] {
    this.unlock = lockDirectory(this.dir);
    try {
      return this.load();
    } catch (error) {
      this.unlock();
      this.unlock = undefined;
      throw error;
    }
  }

  private load(): JournalRecord[] {
    const files = readdirSync(this.dir);
    const generations = files
      .map((f) => /^snapshot-(\d+)\.bson$/.exec(f)?.[1])
      .filter((g): g is string => g !== undefined)
      .map(Number);
    this.generation = generations.length > 0 ? Math.max(...generations) : 0;
    const snapshot = readRecords(path.join(this.dir, snapshotFile(this.generation)), this.log);
    if (snapshot.validBytes !== snapshot.size) {
      // A snapshot is renamed into place only once complete, so this is damage, not a crash.
      throw new Error(`${snapshotFile(this.generation)} in ${this.dir} is damaged; refusing to start on partial data`);
    }
    const journalPath = path.join(this.dir, journalFile(this.generation));
    const journal = readRecords(journalPath, this.log);
    this.fd = openSync(journalPath, 'a');
    // Cut a torn tail so the next append does not follow garbage.
    if (journal.size !== journal.validBytes) ftruncateSync(this.fd, journal.validBytes);
    this.journalBytes = journal.validBytes;
    this.snapshotBytes = snapshot.validBytes;
    this.removeStaleFiles(files);
    return [...snapshot.records, ...journal.records];
  }

  /** Files of older generations and temp files are leftovers of a compaction a crash interrupted. */
  private removeStaleFiles(files: string[]): void {
    for (const file of files) {
      const match = /^(snapshot|journal)-(\d+)\.bson(\.tmp)?$/.exec(file);
      if (!match) continue;
      if (match[3] !== undefined || Number(match[2]) !== this.generation) unlinkSync(path.join(this.dir, file));
    }
  }

  /** Queues an encoded record (see `encodeRecord`) for the next `flush`. */
  append(bytes: Buffer): void {
    this.pending.push(bytes);
  }

  /**
   * Writes what the current command journaled; call before answering it. Once a write has failed
   * (a full disk, say) every later flush fails too: the journal no longer matches memory, and no
   * further write may be acknowledged as durable.
   */
  flush(): void {
    if (this.fd === undefined || this.pending.length === 0) return;
    if (this.failure) {
      this.pending = [];
      throw this.failure;
    }
    const data = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
    this.pending = [];
    try {
      let written = 0;
      while (written < data.length) written += writeSync(this.fd, data, written, data.length - written);
    } catch (error) {
      this.failure = new Error(
        `the journal in ${this.dir} could not be written (${error instanceof Error ? error.message : String(error)}); restart embedded-mongo once the cause is fixed`,
      );
      throw this.failure;
    }
    this.journalBytes += data.length;
  }

  shouldCompact(): boolean {
    return this.journalBytes >= this.compactThreshold && this.journalBytes > 2 * this.snapshotBytes;
  }

  /** Replaces snapshot and journal by a new generation holding `state` (every record needed to rebuild it). */
  compact(state: Iterable<JournalRecord>): void {
    if (this.fd === undefined) return;
    this.flush();
    const next = this.generation + 1;
    const tmp = path.join(this.dir, `${snapshotFile(next)}.tmp`);
    const fd = openSync(tmp, 'w');
    let bytes = 0;
    try {
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      const write = () => {
        const data = Buffer.concat(chunk);
        let written = 0;
        while (written < data.length) written += writeSync(fd, data, written, data.length - written);
        bytes += data.length;
        chunk = [];
        chunkBytes = 0;
      };
      for (const record of state) {
        const data = encodeRecord(record);
        chunk.push(data);
        chunkBytes += data.length;
        if (chunkBytes > 4 * 1024 * 1024) write();
      }
      if (chunk.length > 0) write();
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path.join(this.dir, snapshotFile(next)));
    this.syncDirectory();
    const newFd = openSync(path.join(this.dir, journalFile(next)), 'a');
    closeSync(this.fd);
    this.fd = newFd;
    const previous = this.generation;
    this.generation = next;
    this.journalBytes = 0;
    this.snapshotBytes = bytes;
    for (const file of [snapshotFile(previous), journalFile(previous)]) {
      try {
        unlinkSync(path.join(this.dir, file));
      } catch {
        // generation 0 may have no snapshot
      }
    }
    this.log(`compacted the journal into ${snapshotFile(next)} (${bytes} bytes)`);
  }

  close(): void {
    try {
      this.flush();
    } finally {
      const fd = this.fd;
      this.fd = undefined;
      this.unlock?.();
      this.unlock = undefined;
      if (fd !== undefined) {
        try {
          closeSync(fd);
        } catch {
          // a descriptor that already failed; nothing more to lose
        }
      }
    }
  }

  private syncDirectory(): void {
    try {
      const fd = openSync(this.dir, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      // not every platform can fsync a directory
    }
  }
}
