import type { Document } from 'bson';
import { badValue, notSupported } from '../errors';
import { compareValues, EMPTY_ARRAY_KEY, isPlainObject } from '../storage/values';
import { MISSING, pathValues } from './paths';

/** A validated sort: fields in order, each ascending (1) or descending (-1). */
export type SortSpec = [path: string, direction: 1 | -1][];

export function parseSort(sort: unknown): SortSpec | undefined {
  if (sort === undefined || sort === null) return undefined;
  if (!isPlainObject(sort)) throw badValue('sort must be an object');
  const spec: SortSpec = [];
  for (const [path, direction] of Object.entries(sort)) {
    if (path === '$natural') throw notSupported('a $natural sort');
    if (isPlainObject(direction)) throw notSupported(`sorting by ${JSON.stringify(direction)}`);
    if (direction !== 1 && direction !== -1) {
      throw badValue(
        `$sort key ordering must be 1 (for ascending) or -1 (for descending); got ${String(direction)} for ${path}`,
      );
    }
    if (path === '' || path.startsWith('.') || path.endsWith('.') || path.includes('..'))
      throw badValue(`bad sort field name: '${path}'`);
    spec.push([path, direction]);
  }
  return spec.length > 0 ? spec : undefined;
}

/**
 * MongoDB's sort key of a document for one field: for an array, its smallest element when
 * ascending and its largest when descending; missing counts as null, and an empty array sorts
 * before null.
 */
function sortValue(doc: Document, path: string, direction: 1 | -1): unknown {
  let best: unknown = MISSING;
  const consider = (value: unknown) => {
    if (best === MISSING || compareValues(value, best) * direction < 0) best = value;
  };
  for (const value of pathValues(doc, path)) {
    if (value === MISSING || value === undefined) consider(null);
    else if (Array.isArray(value)) {
      if (value.length === 0) consider(EMPTY_ARRAY_KEY);
      for (const item of value) consider(item);
    } else consider(value);
  }
  return best === MISSING ? null : best;
}

export function sortKey(doc: Document, spec: SortSpec): unknown[] {
  return spec.map(([path, direction]) => sortValue(doc, path, direction));
}

export function compareSortKeys(a: unknown[], b: unknown[], spec: SortSpec): number {
  for (let i = 0; i < spec.length; i++) {
    const c = compareValues(a[i], b[i]) * (spec[i] as [string, 1 | -1])[1];
    if (c !== 0) return c;
  }
  return 0;
}

/**
 * Sorts documents (stably), keeping only the first `keep` when given: a bounded insertion keeps a
 * top-k without sorting everything.
 */
export function sortDocuments(docs: Document[], spec: SortSpec, keep?: number): Document[] {
  if (keep !== undefined && keep <= 0) return [];
  const keyed = docs.map((doc, position) => ({ doc, key: sortKey(doc, spec), position }));
  const order = (a: (typeof keyed)[number], b: (typeof keyed)[number]) =>
    compareSortKeys(a.key, b.key, spec) || a.position - b.position;
  if (keep === undefined || keep >= keyed.length / 4) {
    keyed.sort(order);
    return (keep === undefined ? keyed : keyed.slice(0, keep)).map((k) => k.doc);
  }
  const top: typeof keyed = [];
  for (const item of keyed) {
    if (top.length === keep && order(item, top[top.length - 1] as (typeof keyed)[number]) >= 0) continue;
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order(top[mid] as (typeof keyed)[number], item) <= 0) lo = mid + 1;
      else hi = mid;
    }
    top.splice(lo, 0, item);
    if (top.length > keep) top.pop();
  }
  return top.map((k) => k.doc);
}
