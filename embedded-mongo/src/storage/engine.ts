import { calculateObjectSize, type Document } from 'bson';
import { MongoCommandError } from '../errors';
import { Collection, ID_INDEX } from './collection';
import type { IndexSpec } from './indexes';
import { encodeRecord, type Journal, type JournalRecord } from './journal';

const SIZE_OPTIONS = { checkKeys: false, ignoreUndefined: false } as const;

/** MongoDB's limit on a stored document (BSONObjMaxUserSize). */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/** Which write stores a document, for MongoDB's size-limit message of each. */
export type PutKind = 'insert' | 'update' | 'upsert';

function tooLarge(kind: PutKind, size: number): MongoCommandError {
  switch (kind) {
    case 'insert':
      return new MongoCommandError(
        'BadValue',
        `object to insert too large. size in bytes: ${size}, max size: ${MAX_DOCUMENT_BYTES}`,
      );
    case 'update':
      return new MongoCommandError(
        'Location17419',
        `Resulting document after update is larger than ${MAX_DOCUMENT_BYTES}`,
      );
    case 'upsert':
      return new MongoCommandError('Location17420', `Document to upsert is larger than ${MAX_DOCUMENT_BYTES}`);
  }
}

/**
 * All databases and collections, and the one path every change takes. A change is checked and its
 * journal record encoded first (either can throw), and only then applied to memory, so a failed
 * write leaves nothing behind. Commands run one at a time and synchronously, which is what makes
 * each one atomic; `commit()` makes a command's records durable before its reply is sent, and if
 * they cannot be written it undoes the command's changes, so no reader ever sees a change a crash
 * would lose.
 */
export class Engine {
  private readonly databases = new Map<string, Map<string, Collection>>();
  private replaying = false;
  /** How to take back each change of the current command, newest last. */
  private undo: (() => void)[] = [];

  constructor(private readonly journal?: Journal) {}

  /** Whether changes go to a journal on disk (a data directory), as opposed to memory only. */
  get journaled(): boolean {
    return this.journal !== undefined;
  }

  /** Loads the data directory's snapshot and journals. */
  async open(): Promise<void> {
    if (!this.journal) return;
    const records = await this.journal.open();
    this.replaying = true;
    try {
      for (const record of records) this.apply(record);
    } finally {
      this.replaying = false;
    }
  }

  databaseNames(): string[] {
    return [...this.databases.keys()].filter((name) => (this.databases.get(name)?.size ?? 0) > 0);
  }

  collections(db: string): Collection[] {
    return [...(this.databases.get(db)?.values() ?? [])];
  }

  collection(db: string, name: string): Collection | undefined {
    return this.databases.get(db)?.get(name);
  }

  /** The collection, created (as MongoDB does on a first write) when missing. */
  ensureCollection(db: string, name: string): Collection {
    return this.collection(db, name) ?? this.createCollection(db, name, {});
  }

  createCollection(db: string, name: string, options: Document): Collection {
    validateNamespace(db, name);
    const existing = this.databases.get(db);
    if (existing?.has(name)) throw new MongoCommandError('NamespaceExists', `Collection ${db}.${name} already exists.`);
    const bytes = this.encode({ o: 'mkcoll', d: db, c: name, opts: options });
    let collections = existing;
    if (!collections) {
      collections = new Map();
      this.databases.set(db, collections);
    }
    const collection = new Collection(db, name, options);
    collections.set(name, collection);
    this.changed(bytes, () => collections.delete(name));
    return collection;
  }

  dropCollection(db: string, name: string): boolean {
    const collections = this.databases.get(db);
    const collection = collections?.get(name);
    if (!collections || !collection) return false;
    const bytes = this.encode({ o: 'dropcoll', d: db, c: name });
    collections.delete(name);
    this.changed(bytes, () => collections.set(name, collection));
    return true;
  }

  dropDatabase(db: string): void {
    const collections = this.databases.get(db);
    if (!collections) return;
    const bytes = this.encode({ o: 'dropdb', d: db });
    this.databases.delete(db);
    this.changed(bytes, () => this.databases.set(db, collections));
  }

  /** Stores a new document (`kind` picks MongoDB's error for one over 16 MiB); returns it as stored. */
  insert(collection: Collection, doc: Document, kind: PutKind = 'insert'): Document {
    let bytes: Buffer | undefined;
    const stored = collection.insert(doc, (prepared) => {
      bytes = this.encodePut(collection, prepared, kind);
    });
    this.changed(bytes, () => collection.remove(stored));
    return stored;
  }

  replace(collection: Collection, before: Document, after: Document): void {
    let bytes: Buffer | undefined;
    collection.replace(before, after, () => {
      bytes = this.encodePut(collection, after, 'update');
    });
    this.changed(bytes, () => collection.restore(before));
  }

  remove(collection: Collection, doc: Document): void {
    const bytes = this.encode({ o: 'del', d: collection.db, c: collection.name, id: doc['_id'] });
    collection.remove(doc);
    this.changed(bytes, () => collection.restore(doc));
  }

  createIndex(collection: Collection, spec: IndexSpec): void {
    const bytes = this.encode({ o: 'mkidx', d: collection.db, c: collection.name, spec: { ...spec } });
    collection.createIndex(spec);
    this.changed(bytes, () => collection.dropIndex(spec.name));
  }

  dropIndex(collection: Collection, name: string): void {
    const bytes = this.encode({ o: 'dropidx', d: collection.db, c: collection.name, n: name });
    const indexes = new Map(collection.indexes);
    collection.dropIndex(name);
    this.changed(bytes, () => collection.restoreIndexes(indexes));
  }

  /**
   * Makes the current command's changes durable; call before answering it (`sync`: fsync the
   * journal too, for a `j: true` write concern). If the journal cannot take them, they are undone
   * (newest first) and the error is thrown: the command must fail.
   */
  commit(sync = false): void {
    const undo = this.undo;
    this.undo = [];
    if (!this.journal) return;
    try {
      this.journal.flush(sync);
    } catch (error) {
      for (let i = undo.length - 1; i >= 0; i--) (undo[i] as () => void)();
      throw error;
    }
    if (this.journal.shouldCompact()) this.compact();
  }

  /** Starts a background compaction of the journal (see journal.ts), unless one is running. */
  compact(): void {
    this.journal?.compact(this.freeze());
  }

  /** Resolves once no compaction is running (so that stopping leaves a compacted directory). */
  idle(): Promise<void> {
    return this.journal?.idle() ?? Promise.resolve();
  }

  close(): void {
    this.journal?.close();
  }

  /**
   * Every record needed to rebuild the current state, frozen now and read later: the lists of
   * collections, index specs and document references are copied at once (stored documents are
   * never mutated, so the references keep their content), the records built as they are read.
   */
  private freeze(): Iterator<JournalRecord> {
    const frozen: { db: string; name: string; opts: Document; specs: Document[]; docs: Document[] }[] = [];
    for (const [db, collections] of this.databases) {
      for (const [name, collection] of collections) {
        const specs: Document[] = [];
        for (const index of collection.indexes.values())
          if (index.name !== ID_INDEX.name) specs.push({ ...index.spec });
        frozen.push({ db, name, opts: collection.options, specs, docs: Array.from(collection.docs.values()) });
      }
    }
    return (function* (): Generator<JournalRecord> {
      for (const { db, name, opts, specs, docs } of frozen) {
        yield { o: 'mkcoll', d: db, c: name, opts };
        for (const spec of specs) yield { o: 'mkidx', d: db, c: name, spec };
        for (const doc of docs) yield { o: 'put', d: db, c: name, doc };
      }
    })();
  }

  /** The record's bytes, before anything changes (undefined without a journal or while replaying). */
  private encode(record: JournalRecord): Buffer | undefined {
    return this.journal && !this.replaying ? encodeRecord(record) : undefined;
  }

  /**
   * A document's put record, refusing documents over MongoDB's 16 MiB. With a journal the record is
   * encoded anyway, and only a record that large needs the document measured on its own.
   */
  private encodePut(collection: Collection, doc: Document, kind: PutKind): Buffer | undefined {
    if (this.replaying) return undefined;
    if (!this.journal) {
      const size = calculateObjectSize(doc, SIZE_OPTIONS);
      if (size > MAX_DOCUMENT_BYTES) throw tooLarge(kind, size);
      return undefined;
    }
    let bytes: Buffer;
    try {
      bytes = encodeRecord({ o: 'put', d: collection.db, c: collection.name, doc });
    } catch (error) {
      const size = calculateObjectSize(doc, SIZE_OPTIONS);
      if (size > MAX_DOCUMENT_BYTES) throw tooLarge(kind, size);
      throw error;
    }
    if (bytes.length > MAX_DOCUMENT_BYTES) {
      const size = calculateObjectSize(doc, SIZE_OPTIONS);
      if (size > MAX_DOCUMENT_BYTES) throw tooLarge(kind, size);
    }
    return bytes;
  }

  /** Notes a change made to memory: its record goes to the journal, its undo to the command's list. */
  private changed(bytes: Buffer | undefined, undo: () => void): void {
    if (this.replaying || !this.journal) return;
    if (bytes) this.journal.append(bytes);
    this.undo.push(undo);
  }

  /** Replays one record, without unique checks: they passed when it was written. */
  private apply(record: JournalRecord): void {
    switch (record.o) {
      case 'mkcoll':
        if (!this.collection(record.d, record.c)) this.createCollection(record.d, record.c, record.opts);
        return;
      case 'dropcoll':
        this.dropCollection(record.d, record.c);
        return;
      case 'dropdb':
        this.dropDatabase(record.d);
        return;
      case 'mkidx': {
        const collection = this.ensureCollection(record.d, record.c);
        const spec = record.spec as unknown as IndexSpec;
        if (!collection.indexes.has(spec.name)) collection.createIndex(spec);
        return;
      }
      case 'dropidx':
        this.collection(record.d, record.c)?.dropIndex(record.n);
        return;
      case 'put':
        this.ensureCollection(record.d, record.c).restore(record.doc);
        return;
      case 'del': {
        const collection = this.collection(record.d, record.c);
        const doc = collection?.get(record.id);
        if (collection && doc) collection.remove(doc);
        return;
      }
    }
  }
}

function validateNamespace(db: string, name: string): void {
  if (!db || db.length > 64 || /[/\\. "$\0*<>:|?]/.test(db)) {
    throw new MongoCommandError('InvalidNamespace', `Invalid database name: '${db}'`);
  }
  if (!name || name.includes('\0') || name.startsWith('.') || name.includes('$') || name.startsWith('system.')) {
    throw new MongoCommandError('InvalidNamespace', `Invalid collection name: '${name}'`);
  }
}
