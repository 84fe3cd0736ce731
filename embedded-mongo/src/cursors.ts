import { calculateObjectSize, Long, type Document } from 'bson';
import { badValue, MongoCommandError } from './errors';

/** MongoDB's first batch when none is asked for. */
export const DEFAULT_FIRST_BATCH = 101;
/** A reply's documents stay under 16 MiB, as MongoDB's do. */
const MAX_BATCH_BYTES = 16 * 1024 * 1024 - 16 * 1024;
/** Idle cursors are reaped after this long, like MongoDB's `cursorTimeoutMillis`. */
const CURSOR_IDLE_MS = 10 * 60 * 1000;
const REAP_EVERY_MS = 60 * 1000;

export interface FirstBatchOptions {
  batchSize?: number | undefined;
  /** Return one batch and close the cursor (find's `singleBatch`, or a negative limit). */
  singleBatch?: boolean;
  /** find's `noCursorTimeout`: never reaped for idleness. */
  noTimeout?: boolean;
}

interface OpenCursor {
  ns: string;
  docs: Document[];
  position: number;
  lastUsed: number;
  noTimeout: boolean;
}

/**
 * Open cursors. A cursor holds its whole result as an array of stored document references, a
 * snapshot: stored documents are never mutated (a write stores a new object), so later writes
 * cannot change a batch being read.
 */
export class Cursors {
  private readonly open = new Map<string, OpenCursor>();
  /** Ids start at a random point, so a client holding a cursor from before a restart gets CursorNotFound. */
  private nextId = BigInt(Math.floor(Math.random() * 2 ** 40)) + 1n;
  private readonly reaper: NodeJS.Timeout;

  constructor() {
    this.reaper = setInterval(() => this.reap(Date.now()), REAP_EVERY_MS);
    this.reaper.unref();
  }

  /** The `{ cursor: { id, ns, firstBatch } }` reply, registering a cursor when more remain. */
  first(ns: string, docs: Document[], options: FirstBatchOptions = {}): Document {
    const { batchSize, singleBatch = false } = options;
    if (batchSize !== undefined && batchSize < 0) throw badValue('batchSize value must be non-negative');
    const size = batchSize === undefined ? DEFAULT_FIRST_BATCH : batchSize;
    const batch = takeBatch(docs, 0, singleBatch && batchSize === undefined ? docs.length : size);
    let id = Long.ZERO;
    if (!singleBatch && batch.length < docs.length) {
      id = Long.fromBigInt(this.nextId++);
      this.open.set(id.toString(), {
        ns,
        docs,
        position: batch.length,
        lastUsed: Date.now(),
        noTimeout: options.noTimeout === true,
      });
    }
    return { cursor: { firstBatch: batch, id, ns }, ok: 1 };
  }

  /** getMore: the next batch (without a batchSize, the rest up to 16 MiB). */
  more(id: Long | number, ns: string, batchSize?: number): Document {
    if (batchSize !== undefined && batchSize < 0) throw badValue('batchSize value must be non-negative');
    const key = String(id);
    const cursor = this.open.get(key);
    if (!cursor) throw new MongoCommandError('CursorNotFound', `cursor id ${key} not found`);
    if (cursor.ns !== ns) {
      throw new MongoCommandError('CursorNotFound', `cursor id ${key} belongs to ${cursor.ns}, not ${ns}`);
    }
    const batch = takeBatch(
      cursor.docs,
      cursor.position,
      batchSize && batchSize > 0 ? batchSize : Number.MAX_SAFE_INTEGER,
    );
    cursor.position += batch.length;
    cursor.lastUsed = Date.now();
    let replyId = Long.fromString(key);
    if (cursor.position >= cursor.docs.length) {
      this.open.delete(key);
      replyId = Long.ZERO;
    }
    return { cursor: { nextBatch: batch, id: replyId, ns }, ok: 1 };
  }

  kill(ids: (Long | number)[]): Document {
    const killed: Long[] = [];
    const notFound: Long[] = [];
    for (const id of ids) {
      const long = typeof id === 'number' ? Long.fromNumber(id) : id;
      (this.open.delete(String(id)) ? killed : notFound).push(long);
    }
    return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
  }

  get size(): number {
    return this.open.size;
  }

  close(): void {
    clearInterval(this.reaper);
    this.open.clear();
  }

  /** Drops cursors idle for longer than MongoDB's ten minutes; public so tests can pass a clock. */
  reap(now: number): number {
    let reaped = 0;
    for (const [id, cursor] of this.open) {
      if (!cursor.noTimeout && now - cursor.lastUsed > CURSOR_IDLE_MS) {
        this.open.delete(id);
        reaped++;
      }
    }
    return reaped;
  }
}

function takeBatch(docs: Document[], from: number, count: number): Document[] {
  const batch: Document[] = [];
  let bytes = 0;
  for (let i = from; i < docs.length && batch.length < count; i++) {
    const doc = docs[i] as Document;
    bytes += calculateObjectSize(doc);
    if (batch.length > 0 && bytes > MAX_BATCH_BYTES) break;
    batch.push(doc);
  }
  return batch;
}
