import { ObjectId, type Document } from 'bson';
import { duplicateKey, Index, type IndexSpec } from './indexes';
import { valueKey } from './values';

export const ID_INDEX: IndexSpec = { name: '_id_', key: { _id: 1 } };

/** The same stored value: equal primitives, equal dates, otherwise the same canonical key. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return valueKey(a) === valueKey(b);
}

/** The same key tuples in the same order: the index would hold the same entries. */
function sameKeys(a: unknown[][], b: unknown[][]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as unknown[];
    const y = b[i] as unknown[];
    if (x.length !== y.length) return false;
    for (let j = 0; j < x.length; j++) if (!sameValue(x[j], y[j])) return false;
  }
  return true;
}

/** Work done by queries, for tests that check the planner by counting instead of timing. */
export interface CollectionStats {
  docsExamined: number;
  keysExamined: number;
}

/**
 * One collection: documents by `_id` (in insertion order, MongoDB's natural order for a fresh
 * collection) and its indexes, `_id_` included. Every write checks every unique index before
 * changing anything, so a write that would violate one changes nothing. Stored documents are never
 * mutated: an update stores a new object, so cursors and replies can hold references safely.
 */
export class Collection {
  readonly docs = new Map<string, Document>();
  readonly indexes = new Map<string, Index>();
  readonly stats: CollectionStats = { docsExamined: 0, keysExamined: 0 };

  constructor(
    readonly db: string,
    readonly name: string,
    readonly options: Document = {},
  ) {
    this.indexes.set(ID_INDEX.name, new Index(ID_INDEX, this.ns));
  }

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  get(id: unknown): Document | undefined {
    return this.docs.get(valueKey(id));
  }

  /**
   * Inserts a document (adding an ObjectId `_id` if it has none); throws on a duplicate key.
   * `beforeChange` runs once every check has passed and before anything changes, so whatever it
   * throws (the engine's size check and journal encoding) leaves the collection as it was.
   */
  insert(input: Document, beforeChange?: (doc: Document) => void): Document {
    // MongoDB stores `_id` as the first field, whatever order it was sent in.
    const doc =
      input['_id'] === undefined
        ? { _id: new ObjectId(), ...input }
        : Object.keys(input)[0] === '_id'
          ? input
          : { _id: input['_id'], ...input };
    const id = valueKey(doc['_id']);
    if (this.docs.has(id)) throw duplicateKey(this.ns, ID_INDEX.name, { _id: doc['_id'] });
    const keys = this.keysFor(doc);
    this.checkUnique(keys, id);
    beforeChange?.(doc);
    for (const [name, index] of this.indexes) index.add(keys.get(name) ?? [], id);
    this.docs.set(id, doc);
    return doc;
  }

  /**
   * Replaces a stored document by a new version with the same `_id`; throws on a duplicate key.
   * Indexes whose keys the change leaves as they were are not touched: most updates (a counter, a
   * timestamp) change the keys of few indexes or none, and each entry moved costs two searches.
   */
  replace(before: Document, after: Document, beforeChange?: () => void): void {
    const id = valueKey(before['_id']);
    const oldKeys = this.keysFor(before);
    const newKeys = this.keysFor(after);
    this.checkUnique(newKeys, id);
    beforeChange?.();
    for (const [name, index] of this.indexes) {
      const oldList = oldKeys.get(name) ?? [];
      const newList = newKeys.get(name) ?? [];
      if (sameKeys(oldList, newList)) continue;
      index.remove(oldList, id);
      index.add(newList, id);
    }
    this.docs.set(id, after);
  }

  remove(doc: Document): void {
    const id = valueKey(doc['_id']);
    const stored = this.docs.get(id);
    if (!stored) return;
    const keys = this.keysFor(stored);
    for (const [name, index] of this.indexes) index.remove(keys.get(name) ?? [], id);
    this.docs.delete(id);
  }

  /** Puts a document back as it was journaled: replace or insert, trusting the journal's checks. */
  restore(doc: Document): void {
    const id = valueKey(doc['_id']);
    const before = this.docs.get(id);
    if (before) {
      const oldKeys = this.keysFor(before);
      for (const [name, index] of this.indexes) index.remove(oldKeys.get(name) ?? [], id);
    }
    const keys = this.keysFor(doc);
    for (const [name, index] of this.indexes) index.add(keys.get(name) ?? [], id);
    this.docs.set(id, doc);
  }

  /** Builds an index over the existing documents; adds nothing if they hold duplicates. */
  createIndex(spec: IndexSpec): Index {
    const index = new Index(spec, this.ns);
    for (const [id, doc] of this.docs) {
      const keys = index.keysOf(doc);
      index.checkUnique(keys, id);
      index.add(keys, id);
    }
    this.indexes.set(spec.name, index);
    return index;
  }

  dropIndex(name: string): void {
    this.indexes.delete(name);
  }

  /** Puts back indexes exactly as they were (same objects, same order), to undo a drop. */
  restoreIndexes(indexes: Map<string, Index>): void {
    this.indexes.clear();
    for (const [name, index] of indexes) this.indexes.set(name, index);
  }

  private checkUnique(keys: Map<string, unknown[][]>, id: string): void {
    for (const [name, index] of this.indexes) index.checkUnique(keys.get(name) ?? [], id);
  }

  private keysFor(doc: Document): Map<string, unknown[][]> {
    const keys = new Map<string, unknown[][]>();
    for (const [name, index] of this.indexes) keys.set(name, index.keysOf(doc));
    return keys;
  }
}
