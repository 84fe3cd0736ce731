import { readFileSync } from 'node:fs';
import path from 'node:path';
import { deserialize, serialize, type Document } from 'bson';
import { toBuffer } from '../bytes';
import { DESERIALIZE_OPTIONS, normalizeNumbers } from './numbers';

/** One journaled change. Each record sets state outright (put, delete, drop), so replay is simple. */
export type JournalRecord =
  | { o: 'put'; d: string; c: string; doc: Document }
  | { o: 'del'; d: string; c: string; id: unknown }
  | { o: 'mkcoll'; d: string; c: string; opts: Document }
  | { o: 'dropcoll'; d: string; c: string }
  | { o: 'dropdb'; d: string }
  | { o: 'mkidx'; d: string; c: string; spec: Document }
  | { o: 'dropidx'; d: string; c: string; n: string };

/** Stored values read back exactly as the wire delivers them, numbers with their BSON types (see numbers.ts). */
export { DESERIALIZE_OPTIONS };

const SERIALIZE_OPTIONS = { checkKeys: false, ignoreUndefined: false } as const;

/** A record as journaled; throws (a RangeError) on a document bson cannot encode. */
export function encodeRecord(record: JournalRecord): Buffer {
  return toBuffer(serialize(record, SERIALIZE_OPTIONS));
}

export interface RecordFile {
  records: JournalRecord[];
  /** Bytes up to the end of the last good record. */
  validBytes: number;
  size: number;
}

/** Why the bytes at `offset` are not a record, or undefined if they are one of `size` bytes. */
function badRecord(buffer: Buffer, offset: number, size: number): string | undefined {
  if (size < 5) return `a record length of ${size}`;
  if (offset + size > buffer.length) return `a record of ${size} bytes where ${buffer.length - offset} are left`;
  if (buffer[offset + size - 1] !== 0) return 'a record without its final zero byte';
  return undefined;
}

/**
 * Whether bad bytes from `offset` to the end are what a write cut short leaves: fewer bytes than a
 * record's length says (a process killed mid-write), or zeros (a file extended but never written,
 * after a power loss). Anything else (a bad record followed by more data) is damage.
 */
function isTornTail(buffer: Buffer, offset: number): boolean {
  if (buffer.length - offset < 4) return true;
  const size = buffer.readInt32LE(offset);
  if (size >= 5 && offset + size > buffer.length) return true;
  for (let i = offset; i < buffer.length; i++) if (buffer[i] !== 0) return false;
  return true;
}

/**
 * Reads a file of concatenated BSON records. With `tornTailAllowed` (the journal being appended
 * to), a torn last record ends the list and is reported through `log`; any other bad bytes throw,
 * because dropping them would silently drop every acknowledged write recorded after them.
 */
export function readRecords(file: string, tornTailAllowed: boolean, log: (m: string) => void): RecordFile {
  let buffer: Buffer;
  try {
    buffer = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], validBytes: 0, size: 0 };
    throw error;
  }
  const records: JournalRecord[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    const size = buffer.length - offset >= 4 ? buffer.readInt32LE(offset) : 0;
    let problem = buffer.length - offset < 5 ? 'a truncated record' : badRecord(buffer, offset, size);
    if (!problem) {
      try {
        records.push(
          normalizeNumbers(deserialize(buffer.subarray(offset, offset + size), DESERIALIZE_OPTIONS)) as JournalRecord,
        );
        offset += size;
        continue;
      } catch (error) {
        problem = `invalid BSON (${error instanceof Error ? error.message : String(error)})`;
      }
    }
    const name = path.basename(file);
    if (tornTailAllowed && isTornTail(buffer, offset)) {
      log(`${name}: ignoring ${buffer.length - offset} bytes after the last complete record (a write cut short)`);
      break;
    }
    throw new Error(
      `${name} in ${path.dirname(file)} is damaged at byte ${offset} of ${buffer.length} (${problem}) and is not a write cut short; refusing to start, since dropping it would drop the records after it`,
    );
  }
  return { records, validBytes: offset, size: buffer.length };
}
