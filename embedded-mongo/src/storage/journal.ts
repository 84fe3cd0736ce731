import { closeSync, fsyncSync, ftruncateSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { MongoCommandError } from '../errors';
import { Compaction, journalFile, snapshotFile } from './compaction';
import { lockDirectory } from './lock';
import { readRecords, type JournalRecord } from './records';

export { DESERIALIZE_OPTIONS, encodeRecord, type JournalRecord } from './records';

export interface JournalOptions {
  /** A journal at least this large is compacted when it also outgrows twice the last snapshot. */
  compactThresholdBytes?: number;
  /** Bytes of snapshot written per turn of the event loop while compacting (tests lower it). */
  compactChunkBytes?: number;
  log?: (message: string) => void;
}

/**
 * Persistence for a data directory: a snapshot plus append-only journals of the acknowledged
 * writes since it, numbered by generation. `snapshot-N.bson` always holds the state as it was
 * when `journal-N.bson` began, so the state is the newest complete snapshot followed by every
 * journal from its generation on, in order. The records of one command are written with one
 * synchronous write before the command is answered, so a SIGKILL after an acknowledgement loses
 * nothing (the kernel has the bytes; `fsync` is for `j: true` writes and compaction, as power loss
 * is otherwise not what this protects against).
 *
 * Compaction does not stop the server: new writes switch to the next generation's journal at
 * once, and the state frozen at that moment is written to the next snapshot in the background
 * (see compaction.ts). Until that snapshot is complete the older files stay, and a restart
 * replays them all; afterwards they are deleted. Nothing is ever lost or replayed twice.
 */
export class Journal {
  private fd: number | undefined;
  /** The generation of the journal being appended to. */
  private generation = 0;
  private pending: Buffer[] = [];
  /** Bytes of whole records in the journal being appended to: where a failed append is cut back to. */
  private fileBytes = 0;
  /** Whether the last append failed for lack of space (to log the start and the end of it once). */
  private outOfSpace = false;
  /** Bytes in the journals since the newest complete snapshot. */
  private journalBytes = 0;
  private snapshotBytes = 0;
  private compaction: Compaction | undefined;
  /** Whether the current journal's directory entry has been fsynced (for `j: true`). */
  private entrySynced = false;
  /** After a failed compaction, the journal size at which to try again. */
  private retryAt = 0;
  private unlock: (() => void) | undefined;
  private failure: Error | undefined;
  private readonly compactThreshold: number;
  private readonly chunkBytes: number;
  private readonly log: (message: string) => void;

  constructor(
    readonly dir: string,
    options: JournalOptions = {},
  ) {
    this.compactThreshold = options.compactThresholdBytes ?? 64 * 1024 * 1024;
    this.chunkBytes = options.compactChunkBytes ?? 1024 * 1024;
    this.log = options.log ?? (() => undefined);
  }

  /** Takes the directory's lock and returns the records to replay, snapshot first. */
  async open(): Promise<JournalRecord[]> {
    this.unlock = await lockDirectory(this.dir);
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
    const generationsOf = (kind: string) =>
      files
        .map((f) => new RegExp(`^${kind}-(\\d+)\\.bson$`).exec(f)?.[1])
        .filter((g): g is string => g !== undefined)
        .map(Number)
        .sort((a, b) => a - b);
    const snapshots = generationsOf('snapshot');
    // Generation 0 starts from nothing; every later one from its snapshot.
    const base = snapshots.length > 0 ? (snapshots[snapshots.length - 1] as number) : 0;
    const journals = generationsOf('journal').filter((g) => g >= base);
    journals.forEach((generation, i) => {
      if (generation !== base + i) {
        throw new Error(
          `${journalFile(base + i)} is missing from ${this.dir} (${journalFile(generation)} follows it); refusing to start on partial data`,
        );
      }
    });
    const snapshot = readRecords(path.join(this.dir, snapshotFile(base)), false, this.log);
    const records = snapshot.records;
    this.generation = journals.length > 0 ? (journals[journals.length - 1] as number) : base;
    let tail = { validBytes: 0, size: 0 };
    for (const generation of journals) {
      // Only the journal last appended to can end in a write cut short.
      const journal = readRecords(
        path.join(this.dir, journalFile(generation)),
        generation === this.generation,
        this.log,
      );
      for (const record of journal.records) records.push(record);
      this.journalBytes += journal.validBytes;
      tail = journal;
    }
    this.fd = openSync(path.join(this.dir, journalFile(this.generation)), 'a');
    // Cut a torn tail so the next append does not follow garbage.
    if (tail.size !== tail.validBytes) ftruncateSync(this.fd, tail.validBytes);
    this.fileBytes = journals.length > 0 ? tail.validBytes : 0;
    this.snapshotBytes = snapshot.validBytes;
    this.removeStaleFiles(files, base);
    return records;
  }

  /** Older generations and temp files are leftovers of a compaction that finished or was interrupted. */
  private removeStaleFiles(files: string[], base: number): void {
    for (const file of files) {
      const match = /^(snapshot|journal)-(\d+)\.bson(\.tmp)?$/.exec(file);
      if (!match) continue;
      if (match[3] !== undefined || Number(match[2]) < base) unlinkSync(path.join(this.dir, file));
    }
  }

  /** Queues an encoded record (see `encodeRecord`) for the next `flush`. */
  append(bytes: Buffer): void {
    this.pending.push(bytes);
  }

  /**
   * Writes what the current command journaled; call before answering it. With `sync` (a `j: true`
   * write concern) the journal is also fsynced, even if this command wrote nothing: earlier writes
   * become durable against power loss too.
   *
   * A failed append is cut back off the file, so the journal holds exactly what memory holds once
   * the caller has undone the command: part of its records left behind would be replayed at the
   * next start (a write refused now, back after a restart), or, followed by later records, be
   * damage in the middle of the journal that refuses the next start. A disk that is full (ENOSPC,
   * EDQUOT, or EFBIG past a file-size limit; Node ignores SIGXFSZ, so such a limit arrives as
   * EFBIG) is answered with MongoDB's `OutOfDiskSpace`, and writes resume by themselves once there
   * is room. Any other failure, a failed fsync above all (the kernel may have dropped the pages it
   * could not write), or a cut that failed, leaves the file in doubt: every later flush fails too,
   * and no further write is acknowledged until a restart replays the journal.
   */
  flush(sync = false): void {
    if (this.fd === undefined || (this.pending.length === 0 && !sync)) return;
    if (this.failure) {
      this.pending = [];
      throw this.failure;
    }
    const data = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
    this.pending = [];
    let written = 0;
    try {
      while (written < data.length) written += writeSync(this.fd, data, written, data.length - written);
    } catch (error) {
      throw this.failed(error, written, false);
    }
    try {
      if (sync) {
        fsyncSync(this.fd);
        // A journal file created since the last sync is only durable once its directory entry is.
        if (!this.entrySynced) syncDirectory(this.dir);
        this.entrySynced = true;
      }
    } catch (error) {
      throw this.failed(error, written, true);
    }
    this.fileBytes += data.length;
    this.journalBytes += data.length;
    if (this.outOfSpace) {
      this.outOfSpace = false;
      this.log(`the journal in ${this.dir} takes writes again`);
    }
  }

  /** Cuts a failed append off the journal and says what the command is answered with. */
  private failed(error: unknown, written: number, syncing: boolean): Error {
    const reason = error instanceof Error ? error.message : String(error);
    let cut = written === 0;
    if (!cut) {
      try {
        ftruncateSync(this.fd as number, this.fileBytes);
        cut = true;
      } catch {
        // part of the command stays in the file: no later append may follow it (the failure below sticks)
      }
    }
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (cut && !syncing && (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG')) {
      if (!this.outOfSpace) {
        this.outOfSpace = true;
        this.log(`the journal in ${this.dir} is out of space (${reason}); refusing writes until there is room`);
      }
      return new MongoCommandError(
        'OutOfDiskSpace',
        `embedded-mongo is out of disk space for the journal in ${this.dir} (${reason}); the write was not applied, and writes resume once space is freed`,
      );
    }
    this.failure = new Error(
      `the journal in ${this.dir} could not be written (${reason}); restart embedded-mongo once the cause is fixed`,
    );
    return this.failure;
  }

  shouldCompact(): boolean {
    return (
      this.compaction === undefined &&
      this.journalBytes >= Math.max(this.compactThreshold, this.retryAt) &&
      this.journalBytes > 2 * this.snapshotBytes
    );
  }

  /**
   * Starts compacting into the next generation: from now on writes go to its journal, and `state`
   * (every record needed to rebuild the state as of now, frozen by the caller) is written to its
   * snapshot in the background. Does nothing while a compaction is running.
   */
  compact(state: Iterator<JournalRecord>): void {
    if (this.fd === undefined || this.compaction) return;
    this.flush();
    const next = this.generation + 1;
    const fd = openSync(path.join(this.dir, journalFile(next)), 'a');
    closeSync(this.fd);
    this.fd = fd;
    this.fileBytes = 0;
    this.entrySynced = false;
    this.generation = next;
    const covered = this.journalBytes;
    const compaction = new Compaction(
      { dir: this.dir, generation: next, state, chunkBytes: this.chunkBytes },
      this.log,
    );
    this.compaction = compaction;
    this.log(`compacting the journal into ${snapshotFile(next)} in the background; writes go to ${journalFile(next)}`);
    void compaction.done.then((bytes) => {
      if (this.compaction === compaction) this.compaction = undefined;
      if (bytes === undefined) {
        this.retryAt = this.journalBytes + this.compactThreshold;
        return;
      }
      this.journalBytes -= covered;
      this.snapshotBytes = bytes;
      this.log(`compacted the journal into ${snapshotFile(next)} (${bytes} bytes)`);
    });
  }

  /** Resolves once no compaction is running. */
  async idle(): Promise<void> {
    while (this.compaction) await this.compaction.done;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      // A compaction still running is abandoned: the journals it would have replaced remain.
      this.compaction?.cancel();
      this.compaction = undefined;
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
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not every platform can fsync a directory
  }
}
