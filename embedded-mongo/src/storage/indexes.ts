import type { Document } from 'bson';
import { MongoCommandError } from '../errors';
import { compileFilter, type Matcher } from '../query/matcher';
import { MISSING, pathValues } from '../query/paths';
import { SortedList, type Position } from './sorted-list';
import { compareValues, EMPTY_ARRAY_KEY, type Rank, renderValue, setField, typeRank, valueKey } from './values';

export interface IndexSpec {
  name: string;
  key: Record<string, 1 | -1>;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Document;
  expireAfterSeconds?: number;
}

export interface IndexEntry {
  key: unknown[];
  /** The document's `_id` key (see `valueKey`). */
  id: string;
}

export interface Bound {
  value: unknown;
  inclusive: boolean;
}

/** A range of one key component, within one canonical type (a query never compares across types). */
export interface KeyRange {
  rank: Rank;
  lower?: Bound;
  upper?: Bound;
}

/** Entries whose first components equal `prefix`, and whose next one lies in `range` if given. */
export interface IndexBounds {
  prefix: unknown[];
  range?: KeyRange;
}

/**
 * One index: every document's key tuples (one per array element for a multikey field) in an
 * ordered list, and, for unique indexes, a hash of full keys for O(1) duplicate checks. Missing
 * fields index as null, so two documents without the field collide on a unique index, as in
 * MongoDB; sparse and partial indexes skip the documents they don't cover.
 */
export class Index {
  readonly fields: string[];
  readonly directions: (1 | -1)[];
  readonly entries: SortedList<IndexEntry>;
  private readonly uniqueKeys = new Map<string, string>();
  private readonly partial: Matcher | undefined;
  /** Whether some document has several keys here (then scans must skip repeats of a document). */
  multikey = false;

  constructor(
    readonly spec: IndexSpec,
    private readonly ns: string,
  ) {
    this.fields = Object.keys(spec.key);
    this.directions = this.fields.map((f) => spec.key[f] as 1 | -1);
    this.entries = new SortedList((a, b) => this.compareEntries(a, b));
    this.partial = spec.partialFilterExpression
      ? compileFilter(spec.partialFilterExpression, 'partialFilterExpression')
      : undefined;
  }

  get name(): string {
    return this.spec.name;
  }

  get unique(): boolean {
    return this.spec.unique === true;
  }

  /** Sparse (and not partial): it holds every document that has at least one of its fields. */
  get sparseOnly(): boolean {
    return this.spec.sparse === true && !this.partial;
  }

  /** Whether the index holds every document, so a query may be answered from it alone. */
  get complete(): boolean {
    return !this.spec.sparse && !this.partial;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The key tuples of a document, or none when a sparse or partial index does not cover it. */
  keysOf(doc: Document): unknown[][] {
    if (this.partial && !this.partial.test(doc)) return [];
    let present = false;
    let arrays = 0;
    const perField = this.fields.map((field) => {
      const keys: unknown[] = [];
      const values = pathValues(doc, field);
      let array = values.length > 1;
      for (const value of values) {
        if (value === MISSING) {
          keys.push(null);
          continue;
        }
        present = true;
        if (Array.isArray(value)) {
          array = true;
          if (value.length === 0) keys.push(EMPTY_ARRAY_KEY);
          else keys.push(...value);
        } else {
          keys.push(value === undefined ? null : value);
        }
      }
      if (array) arrays++;
      return keys;
    });
    if (this.spec.sparse && !present) return [];
    if (arrays > 1) {
      throw new MongoCommandError(
        'CannotIndexParallelArrays',
        `cannot index parallel arrays [${this.fields.join('] [')}] (index ${this.name})`,
      );
    }
    if (perField.every((keys) => keys.length === 1)) return [perField.map((keys) => keys[0])];
    let tuples: unknown[][] = [[]];
    for (const keys of perField) tuples = tuples.flatMap((tuple) => keys.map((key) => [...tuple, key]));
    // One entry per distinct tuple: ["a", "a"] in a multikey field is one key.
    const seen = new Set<string>();
    return tuples.filter((tuple) => {
      const k = valueKey(tuple);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }

  /** Throws MongoDB's duplicate-key error if a key is already held by another document. */
  checkUnique(keys: unknown[][], id: string): void {
    if (!this.unique) return;
    for (const key of keys) {
      const holder = this.uniqueKeys.get(valueKey(key));
      if (holder !== undefined && holder !== id) throw this.duplicateError(key);
    }
  }

  add(keys: unknown[][], id: string): void {
    if (keys.length > 1) this.multikey = true;
    for (const key of keys) {
      this.entries.insert({ key, id });
      if (this.unique) this.uniqueKeys.set(valueKey(key), id);
    }
  }

  remove(keys: unknown[][], id: string): void {
    for (const key of keys) {
      this.entries.remove({ key, id });
      if (this.unique) {
        const k = valueKey(key);
        if (this.uniqueKeys.get(k) === id) this.uniqueKeys.delete(k);
      }
    }
  }

  clear(): void {
    this.entries.clear();
    this.uniqueKeys.clear();
    this.multikey = false;
  }

  /** Entries within the bounds, in index order or, with `reverse`, backwards. */
  scan(bounds: IndexBounds, reverse = false): Generator<IndexEntry> {
    const [from, to] = this.positions(bounds);
    return this.entries.range(from, to, reverse);
  }

  /** How many entries lie within the bounds (O(log n + n/B)), for choosing between plans. */
  count(bounds: IndexBounds): number {
    const [from, to] = this.positions(bounds);
    return this.entries.distance(from, to);
  }

  private positions(bounds: IndexBounds): [Position, Position] {
    const { prefix, range } = bounds;
    const k = prefix.length;
    const onPrefix = (entry: IndexEntry): number => {
      for (let i = 0; i < k; i++) {
        const c = compareValues(entry.key[i], prefix[i]) * (this.directions[i] as number);
        if (c !== 0) return c;
      }
      return 0;
    };
    if (!range || k >= this.fields.length) {
      return [this.entries.seek(onPrefix), this.entries.seek(onPrefix, true)];
    }
    const direction = this.directions[k] as number;
    const { rank, lower, upper } = range;
    // Natural (ascending) comparison of the next component with each end of the range.
    const toLower = (v: unknown) => (lower ? compareValues(v, lower.value) : typeRank(v) < rank ? -1 : 0);
    const toUpper = (v: unknown) => (upper ? compareValues(v, upper.value) : typeRank(v) > rank ? 1 : 0);
    const probe = (toEnd: (v: unknown) => number, sign: number) => (entry: IndexEntry) =>
      onPrefix(entry) || sign * toEnd(entry.key[k]);
    if (direction === 1) {
      return [
        this.entries.seek(probe(toLower, 1), lower ? !lower.inclusive : false),
        this.entries.seek(probe(toUpper, 1), upper ? upper.inclusive : true),
      ];
    }
    return [
      this.entries.seek(probe(toUpper, -1), upper ? !upper.inclusive : false),
      this.entries.seek(probe(toLower, -1), lower ? lower.inclusive : true),
    ];
  }

  private duplicateError(key: unknown[]): MongoCommandError {
    const keyValue: Record<string, unknown> = {};
    this.fields.forEach((field, i) => setField(keyValue, field, key[i]));
    return duplicateKey(this.ns, this.name, keyValue, this.spec.key);
  }

  private compareEntries(a: IndexEntry, b: IndexEntry): number {
    for (let i = 0; i < this.fields.length; i++) {
      const c = compareValues(a.key[i], b.key[i]) * (this.directions[i] as number);
      if (c !== 0) return c;
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  }

  /** The index as listIndexes describes it. */
  describe(): Document {
    return { v: 2, key: { ...this.spec.key }, name: this.name, ...specOptions(this.spec) };
  }
}

export function specOptions(spec: IndexSpec): Document {
  const options: Document = {};
  if (spec.unique) options['unique'] = true;
  if (spec.sparse) options['sparse'] = true;
  if (spec.partialFilterExpression) options['partialFilterExpression'] = spec.partialFilterExpression;
  if (spec.expireAfterSeconds !== undefined) options['expireAfterSeconds'] = spec.expireAfterSeconds;
  return options;
}

/** MongoDB's E11000 error, with the `keyPattern` and `keyValue` mongoose and the driver read. */
export function duplicateKey(
  ns: string,
  indexName: string,
  keyValue: Record<string, unknown>,
  keyPattern: Record<string, number> = Object.fromEntries(Object.keys(keyValue).map((k) => [k, 1])),
): MongoCommandError {
  const values: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(keyValue)) {
    setField(values, field, value === EMPTY_ARRAY_KEY || value === undefined ? null : value);
  }
  const rendered = Object.entries(keyValue)
    .map(([field, value]) => `${field}: ${renderValue(value)}`)
    .join(', ');
  return new MongoCommandError(
    'DuplicateKey',
    `E11000 duplicate key error collection: ${ns} index: ${indexName} dup key: { ${rendered} }`,
    { keyPattern: { ...keyPattern }, keyValue: values },
  );
}
