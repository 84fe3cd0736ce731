import type { Document } from 'bson';
import { MongoCommandError } from '../errors';
import { Collection, ID_INDEX } from './collection';
import type { IndexSpec } from './indexes';
import type { Journal, JournalRecord } from './journal';

/**
 * All databases and collections, and the one path every change takes: the in-memory change, then
 * a journal record (when there is a data directory). Commands run one at a time and synchronously,
 * which is what makes each one atomic; `commit()` makes a command's records durable before its
 * reply is sent.
 */
export class Engine {
  private readonly databases = new Map<string, Map<string, Collection>>();
  private replaying = false;

  constructor(private readonly journal?: Journal) {}

  /** Loads the data directory's snapshot and journal. */
  open(): void {
    if (!this.journal) return;
    const records = this.journal.open();
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
    let collections = this.databases.get(db);
    if (!collections) {
      collections = new Map();
      this.databases.set(db, collections);
    }
    if (collections.has(name))
      throw new MongoCommandError('NamespaceExists', `Collection ${db}.${name} already exists.`);
    const collection = new Collection(db, name, options);
    collections.set(name, collection);
    this.record({ o: 'mkcoll', d: db, c: name, opts: options });
    return collection;
  }

  dropCollection(db: string, name: string): boolean {
    const dropped = this.databases.get(db)?.delete(name) ?? false;
    if (dropped) this.record({ o: 'dropcoll', d: db, c: name });
    return dropped;
  }

  dropDatabase(db: string): void {
    if (this.databases.delete(db)) this.record({ o: 'dropdb', d: db });
  }

  insert(collection: Collection, doc: Document): Document {
    const stored = collection.insert(doc);
    this.record({ o: 'put', d: collection.db, c: collection.name, doc: stored });
    return stored;
  }

  replace(collection: Collection, before: Document, after: Document): void {
    collection.replace(before, after);
    this.record({ o: 'put', d: collection.db, c: collection.name, doc: after });
  }

  remove(collection: Collection, doc: Document): void {
    collection.remove(doc);
    this.record({ o: 'del', d: collection.db, c: collection.name, id: doc['_id'] });
  }

  createIndex(collection: Collection, spec: IndexSpec): void {
    collection.createIndex(spec);
    this.record({ o: 'mkidx', d: collection.db, c: collection.name, spec: { ...spec } });
  }

  dropIndex(collection: Collection, name: string): void {
    collection.dropIndex(name);
    this.record({ o: 'dropidx', d: collection.db, c: collection.name, n: name });
  }

  /** Makes the current command's changes durable; call before answering it. */
  commit(): void {
    if (!this.journal) return;
    this.journal.flush();
    if (this.journal.shouldCompact()) this.compact();
  }

  compact(): void {
    this.journal?.compact(this.snapshot());
  }

  close(): void {
    this.journal?.close();
  }

  /** Every record needed to rebuild the current state from nothing. */
  private *snapshot(): Generator<JournalRecord> {
    for (const [db, collections] of this.databases) {
      for (const [name, collection] of collections) {
        yield { o: 'mkcoll', d: db, c: name, opts: collection.options };
        for (const index of collection.indexes.values()) {
          if (index.name !== ID_INDEX.name) yield { o: 'mkidx', d: db, c: name, spec: { ...index.spec } };
        }
        for (const doc of collection.docs.values()) yield { o: 'put', d: db, c: name, doc };
      }
    }
  }

  private record(record: JournalRecord): void {
    if (!this.replaying) this.journal?.append(record);
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
