import type { Document } from 'bson';
import type { Collection } from '../storage/collection';
import type { Index, IndexBounds, KeyRange } from '../storage/indexes';
import { isPlainObject, Rank, typeRank, valueKey } from '../storage/values';
import type { SortSpec } from './sort';

/**
 * Picks the documents a query has to look at. Equality and `$in` on an index's leading fields, then
 * a range or an anchored literal-prefix regex on the next one, narrow the candidates to one or a
 * few index ranges; a `$or` whose branches are each indexable becomes a union of such scans; an
 * index whose order matches the requested sort lets a limited query stop early. Plans are costed
 * by counting the index entries in their ranges. The caller runs the full filter on every
 * candidate, so a plan only ever narrows: it can make a query slow, never wrong.
 */
export interface QueryPlan {
  /** `IDHACK`, `IXSCAN`, `OR` or `COLLSCAN`, as MongoDB's explain names them. */
  stage: string;
  /**
   * How many leading fields of the requested sort the candidates already come ordered by: all of
   * them (FULLY_SORTED), a prefix (then ties on it still need sorting), or none.
   */
  sortedPrefix: number;
  /** The candidate documents, each once. */
  candidates(): Iterable<Document>;
  /** Index entries read so far. */
  keysExamined(): number;
  describe(): Document;
  /**
   * For an index-ordered plan chosen over a narrower unordered one: how many documents it may
   * examine before giving up, and the plan to fall back to. A limited query then costs at most
   * about twice the better of the two, whichever it is (MongoDB races its plans the same way).
   */
  trial?: { budget: number; fallback: QueryPlan };
}

interface Conditions {
  /** Point values (from equality or `$in`): the path's first such condition. */
  equals?: unknown[];
  /**
   * Every equality or `$in` on the path, `equals` first. Each must hold, so any one of them narrows
   * correctly; on a multikey field they may be met by different elements (`{ $and: [{ tags: 'a' },
   * { tags: 'b' }] }`), so they are never intersected, and the index scan takes the one with the
   * fewest entries (property filters: several `{ k, v }` conditions on `propIndex`).
   */
  alternatives: unknown[][];
  ranges: KeyRange[];
}

/** The `sortedPrefix` of a plan whose candidates come in the exact requested order. */
export const FULLY_SORTED = Number.MAX_SAFE_INTEGER;

/** More index ranges than this and a plan is not worth its lookups. */
const MAX_RANGES = 5000;
/** Below this many candidates, sorting in memory beats walking an index in sort order. */
const CHEAP_SORT = 1000;

/** `/^abc/` or `'^abc'` with nothing that could widen it after the literal prefix: a range of strings. */
export function literalPrefix(re: RegExp): string | undefined {
  if (/[im]/.test(re.flags)) return undefined;
  const source = re.source;
  if (!source.startsWith('^') || hasTopLevelAlternation(source)) return undefined;
  let prefix = '';
  let i = 1;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === '\\') {
      const next = source[i + 1];
      if (next === undefined || /[A-Za-z0-9]/.test(next)) break;
      prefix += next;
      i += 2;
    } else if ('.^$|?*+()[]{}'.includes(c)) {
      break;
    } else {
      prefix += c;
      i++;
    }
  }
  // A quantifier after the prefix makes its last character optional (`^ab*`).
  if (/^[?*{]/.test(source.slice(i)) && prefix.length > 0) prefix = prefix.slice(0, -1);
  return prefix.length > 0 ? prefix : undefined;
}

function hasTopLevelAlternation(source: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) return true;
  }
  return false;
}

function prefixRange(prefix: string): KeyRange {
  const last = prefix.charCodeAt(prefix.length - 1);
  const upper =
    last < 0xffff ? { value: prefix.slice(0, -1) + String.fromCharCode(last + 1), inclusive: false } : undefined;
  return { rank: Rank.String, lower: { value: prefix, inclusive: true }, ...(upper ? { upper } : {}) };
}

/** A value usable as an index point: not an array (that is a whole-array match) nor a regex. */
function isPoint(value: unknown): boolean {
  return !Array.isArray(value) && !(value instanceof RegExp) && value !== undefined;
}

function isOperatorObject(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value) && Object.keys(value)[0]?.startsWith('$') === true;
}

/** The conditions an index can serve, per path, from a conjunction (top level and `$and`). */
function analyze(filter: Document, into = new Map<string, Conditions>()): Map<string, Conditions> {
  const get = (path: string) => {
    let conditions = into.get(path);
    if (!conditions) into.set(path, (conditions = { ranges: [], alternatives: [] }));
    return conditions;
  };
  const point = (path: string, values: unknown[]) => {
    const conditions = get(path);
    conditions.equals ??= values;
    conditions.alternatives.push(values);
  };
  for (const [path, condition] of Object.entries(filter)) {
    if (path === '$and') {
      for (const clause of condition as Document[]) analyze(clause, into);
      continue;
    }
    if (path.startsWith('$')) continue;
    if (condition instanceof RegExp) {
      const prefix = literalPrefix(condition);
      if (prefix !== undefined) get(path).ranges.push(prefixRange(prefix));
      continue;
    }
    if (!isOperatorObject(condition)) {
      if (isPoint(condition)) point(path, [condition]);
      continue;
    }
    for (const [op, operand] of Object.entries(condition)) {
      if (op === '$eq' && isPoint(operand)) point(path, [operand]);
      else if (op === '$in' && Array.isArray(operand) && operand.every(isPoint)) point(path, distinct(operand));
      else if (op === '$regex' && operand instanceof RegExp) {
        const prefix = literalPrefix(operand);
        if (prefix !== undefined) get(path).ranges.push(prefixRange(prefix));
      } else if (['$gt', '$gte', '$lt', '$lte'].includes(op) && isPoint(operand) && operand !== null) {
        const rank = typeRank(operand);
        if (rank === Rank.MinKey || rank === Rank.MaxKey) continue;
        const bound = { value: operand, inclusive: op.endsWith('e') };
        get(path).ranges.push(op.startsWith('$g') ? { rank, lower: bound } : { rank, upper: bound });
      }
    }
  }
  return into;
}

function distinct(values: unknown[]): unknown[] {
  const seen = new Map<string, unknown>();
  for (const value of values) seen.set(valueKey(value), value);
  return [...seen.values()];
}

/**
 * The range to scan on a field. On a multikey index two bounds may be met by different elements
 * (`{ a: { $gt: 5, $lt: 3 } }` matches `a: [6, 1]`), so only one is used there; otherwise bounds
 * of the same type intersect.
 */
function rangeFor(conditions: Conditions | undefined, multikey: boolean): KeyRange | undefined {
  const ranges = conditions?.ranges ?? [];
  const first = ranges[0];
  if (!first || multikey) return first;
  const merged: KeyRange = { ...first };
  for (const range of ranges.slice(1)) {
    if (range.rank !== merged.rank) continue;
    if (range.lower && !merged.lower) merged.lower = range.lower;
    if (range.upper && !merged.upper) merged.upper = range.upper;
  }
  return merged;
}

interface IndexPlan {
  index: Index;
  bounds: IndexBounds[];
  cost: number;
  reverse: boolean;
  sortedPrefix: number;
}

/**
 * Whether every document the conditions match has one of the index's fields (a value, not null):
 * a sparse index then holds them all and may serve the query, as MongoDB uses one for a query
 * that cannot match a document without the field (`{ at: { $lt: date } }`, `{ id: 'x' }`).
 */
function requiresAField(index: Index, conditions: Map<string, Conditions>): boolean {
  return index.fields.some((field) => {
    const found = conditions.get(field);
    if (!found) return false;
    if (found.equals && found.equals.every((value) => value !== null)) return true;
    return found.ranges.length > 0;
  });
}

/** How an index serves the conditions (and the sort, if it can), or nothing if it cannot. */
function indexPlan(
  index: Index,
  conditions: Map<string, Conditions>,
  sort: SortSpec | undefined,
): IndexPlan | undefined {
  if (!index.complete && !(index.sparseOnly && requiresAField(index, conditions))) return undefined;
  let prefixes: unknown[][] = [[]];
  let k = 0;
  for (const field of index.fields) {
    const alternatives = conditions.get(field)?.alternatives ?? [];
    let chosen: unknown[][] | undefined;
    let chosenCost = Infinity;
    for (const equals of alternatives) {
      if (prefixes.length * equals.length > MAX_RANGES) continue;
      const extended = prefixes.flatMap((prefix) => equals.map((value) => [...prefix, value]));
      // Counted only when there is a choice to make.
      const cost = alternatives.length === 1 ? 0 : extended.reduce((sum, prefix) => sum + index.count({ prefix }), 0);
      if (cost < chosenCost) {
        chosen = extended;
        chosenCost = cost;
      }
    }
    if (!chosen) break;
    prefixes = chosen;
    k++;
  }
  const next = index.fields[k];
  const range = next !== undefined ? rangeFor(conditions.get(next), index.multikey) : undefined;
  const order = sortOrder(index, k, prefixes.length === 1, conditions, sort);
  if (k === 0 && !range && order === undefined) return undefined;
  const bounds = prefixes.map((prefix) => (range ? { prefix, range } : { prefix }));
  const cost = bounds.reduce((sum, b) => sum + index.count(b), 0);
  return { index, bounds, cost, reverse: order?.direction === -1, sortedPrefix: order?.prefix ?? 0 };
}

/**
 * How scanning the index (forwards or backwards) orders the candidates for the sort: the number of
 * leading sort fields it yields in order (fields fixed by a single equality count too), or
 * undefined if none. `{ updatedAt: -1, _id: -1 }` on an index `{ projectId: 1, updatedAt: -1 }`
 * gets 1: candidates come by updatedAt, and only ties need sorting by _id.
 * Not on a multikey index: a document sorts by its smallest (or largest) element overall, while a
 * range scan meets it at its smallest element within the range.
 */
function sortOrder(
  index: Index,
  k: number,
  singlePrefix: boolean,
  conditions: Map<string, Conditions>,
  sort: SortSpec | undefined,
): { direction: 1 | -1; prefix: number } | undefined {
  if (!sort || !singlePrefix || index.multikey) return undefined;
  const fixed = new Set(index.fields.slice(0, k).filter((f) => conditions.get(f)?.equals?.length === 1));
  let direction: 1 | -1 | undefined;
  let next = k;
  let prefix = 0;
  for (const [path, wanted] of sort) {
    if (fixed.has(path)) {
      prefix++;
      continue;
    }
    if (index.fields[next] !== path) break;
    const relative = wanted === index.directions[next] ? 1 : -1;
    if (direction !== undefined && direction !== relative) break;
    direction = relative;
    next++;
    prefix++;
  }
  if (prefix === 0) return undefined;
  return { direction: direction ?? 1, prefix: prefix === sort.length ? FULLY_SORTED : prefix };
}

interface Scan {
  stage: string;
  cost: number;
  sortedPrefix: number;
  plan: () => QueryPlan;
}

/** An index-ordered scan that gives way to `fallback` once it has examined `fallback.cost` documents. */
function trialScan(sorted: Scan, fallback: Scan): Scan {
  return {
    ...sorted,
    plan: () => ({
      ...sorted.plan(),
      trial: { budget: Math.max(fallback.cost, CHEAP_SORT), fallback: fallback.plan() },
    }),
  };
}

function idLookup(collection: Collection, filter: Document): Scan | undefined {
  const id = filter['_id'];
  let ids: unknown[] | undefined;
  if (id !== undefined && !isOperatorObject(id) && isPoint(id)) ids = [id];
  else if (isOperatorObject(id) && Object.keys(id).length === 1 && Array.isArray(id['$in']) && id['$in'].every(isPoint))
    ids = distinct(id['$in']);
  else if (isOperatorObject(id) && Object.keys(id).length === 1 && '$eq' in id && isPoint(id['$eq'])) ids = [id['$eq']];
  if (!ids) return undefined;
  const found = ids;
  return {
    stage: 'IDHACK',
    cost: found.length,
    sortedPrefix: found.length <= 1 ? FULLY_SORTED : 0,
    plan: () => {
      let keys = 0;
      return {
        stage: 'IDHACK',
        sortedPrefix: found.length <= 1 ? FULLY_SORTED : 0,
        *candidates() {
          for (const value of found) {
            keys++;
            const doc = collection.get(value);
            if (doc) yield doc;
          }
        },
        keysExamined: () => keys,
        describe: () => ({ stage: 'IDHACK' }),
      };
    },
  };
}

function indexScan(collection: Collection, plan: IndexPlan): Scan {
  const { index, bounds, reverse, sortedPrefix } = plan;
  return {
    stage: 'IXSCAN',
    cost: plan.cost,
    sortedPrefix,
    plan: () => {
      let keys = 0;
      return {
        stage: 'IXSCAN',
        sortedPrefix,
        *candidates() {
          const dedupe = index.multikey || bounds.length > 1;
          const seen = new Set<string>();
          for (const b of bounds) {
            for (const entry of index.scan(b, reverse)) {
              keys++;
              if (dedupe) {
                if (seen.has(entry.id)) continue;
                seen.add(entry.id);
              }
              const doc = collection.docs.get(entry.id);
              if (doc) yield doc;
            }
          }
        },
        keysExamined: () => keys,
        describe: () => ({
          stage: 'FETCH',
          inputStage: {
            stage: 'IXSCAN',
            indexName: index.name,
            keyPattern: { ...index.spec.key },
            isMultiKey: index.multikey,
            direction: reverse ? 'backward' : 'forward',
          },
        }),
      };
    },
  };
}

function collectionScan(collection: Collection): Scan {
  return {
    stage: 'COLLSCAN',
    cost: collection.docs.size,
    sortedPrefix: 0,
    plan: () => ({
      stage: 'COLLSCAN',
      sortedPrefix: 0,
      candidates: () => collection.docs.values(),
      keysExamined: () => 0,
      describe: () => ({ stage: 'COLLSCAN', direction: 'forward' }),
    }),
  };
}

/** The union of several scans (a `$or`), each document once. */
function unionScan(branches: Scan[]): Scan {
  return {
    stage: 'OR',
    cost: branches.reduce((sum, b) => sum + b.cost, 0),
    sortedPrefix: 0,
    plan: () => {
      const plans = branches.map((b) => b.plan());
      return {
        stage: 'OR',
        sortedPrefix: 0,
        *candidates() {
          const seen = new Set<Document>();
          for (const plan of plans) {
            for (const doc of plan.candidates()) {
              if (seen.has(doc)) continue;
              seen.add(doc);
              yield doc;
            }
          }
        },
        keysExamined: () => plans.reduce((sum, p) => sum + p.keysExamined(), 0),
        describe: () => ({
          stage: 'SUBPLAN',
          inputStage: { stage: 'OR', inputStages: plans.map((p) => p.describe()) },
        }),
      };
    },
  };
}

/** The cheapest way to find the documents of a conjunction (plus any `$or` in it), or undefined. */
function bestScan(
  collection: Collection,
  filter: Document,
  sort: SortSpec | undefined,
  limited: boolean,
): Scan | undefined {
  const byId = idLookup(collection, filter);
  if (byId) return byId;
  const conditions = analyze(filter);
  let best: IndexPlan | undefined;
  let bestSorted: IndexPlan | undefined;
  for (const index of collection.indexes.values()) {
    const plan = indexPlan(index, conditions, sort);
    if (!plan) continue;
    const narrows = plan.bounds.some((b) => b.prefix.length > 0 || b.range);
    if (
      narrows &&
      (!best || plan.cost < best.cost || (plan.cost === best.cost && plan.sortedPrefix > best.sortedPrefix))
    )
      best = plan;
    if (
      plan.sortedPrefix > 0 &&
      (!bestSorted ||
        plan.sortedPrefix > bestSorted.sortedPrefix ||
        (plan.sortedPrefix === bestSorted.sortedPrefix && plan.cost < bestSorted.cost))
    )
      bestSorted = plan;
  }
  const union = orScan(collection, filter);
  let scan: Scan | undefined = best ? indexScan(collection, best) : undefined;
  if (union && (!scan || union.cost < scan.cost)) scan = union;
  if (sort && bestSorted && !scan) return indexScan(collection, bestSorted);
  if (sort && bestSorted && scan && scan.sortedPrefix === 0 && limited && scan.cost > CHEAP_SORT) {
    return trialScan(indexScan(collection, bestSorted), scan);
  }
  return scan;
}

/** A `$or` each of whose branches (with the conditions around it) has an index plan. */
function orScan(collection: Collection, filter: Document): Scan | undefined {
  const clauses = filter['$or'];
  if (!Array.isArray(clauses)) return undefined;
  const { $or: _or, ...outer } = filter;
  const outerAnd = Array.isArray(outer['$and']) ? (outer['$and'] as Document[]) : [];
  const branches: Scan[] = [];
  for (const clause of clauses as Document[]) {
    const scan = bestScan(collection, { ...outer, $and: [...outerAnd, clause] }, undefined, false);
    if (!scan || scan.stage === 'COLLSCAN') return undefined;
    branches.push(scan);
  }
  return unionScan(branches);
}

export function planQuery(collection: Collection, filter: Document, sort?: SortSpec, limited = false): QueryPlan {
  return (bestScan(collection, filter, sort, limited) ?? collectionScan(collection)).plan();
}
