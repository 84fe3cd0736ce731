import { BSONRegExp, type Document } from 'bson';
import { isPlainObject } from '../storage/values';
import type { Collection } from '../storage/collection';
import type { Index } from '../storage/indexes';
import type { Matcher } from './matcher';
import { PcreRegExp } from './regex';
import { planQuery, type QueryPlan } from './planner';
import { compareSortKeys, sortDocuments, sortKey, type SortSpec } from './sort';

export interface QueryOptions {
  sort?: SortSpec;
  skip?: number;
  /** 0 or unset: no limit. */
  limit?: number;
  /** A hinted index: without a sort, the query scans it, in its order. */
  hint?: Index;
}

export interface QueryResult {
  /** Stored documents (never to be mutated), sorted, skipped and limited. */
  docs: Document[];
  plan: QueryPlan | undefined;
  docsExamined: number;
}

/**
 * Runs a query: the planner's candidates, the full filter on each, then sort, skip and limit.
 * A limited query stops as soon as it has enough matches, when candidates already come sorted.
 */
export function runQuery(
  collection: Collection | undefined,
  matcher: Matcher,
  options: QueryOptions = {},
): QueryResult {
  if (!collection) return { docs: [], plan: undefined, docsExamined: 0 };
  const { sort } = options;
  const skip = options.skip ?? 0;
  const limit = options.limit && options.limit > 0 ? options.limit : undefined;
  const wanted = limit !== undefined ? skip + limit : undefined;
  if (options.hint && (!sort || !options.hint.complete)) {
    const { docs, examined } = scanIndex(collection, options.hint, matcher, sort ? undefined : wanted);
    collection.stats.docsExamined += examined;
    const ordered = sort ? sortDocuments(docs, sort, wanted) : docs;
    return { docs: ordered.slice(skip, wanted), plan: undefined, docsExamined: examined };
  }
  let plan = planQuery(collection, matcher.filter, sort, limit !== undefined);
  let scanned = scan(plan, matcher, stopRule(plan, sort, wanted), plan.trial?.budget);
  let docsExamined = scanned.examined;
  if (scanned.gaveUp && plan.trial) {
    collection.stats.keysExamined += plan.keysExamined();
    plan = plan.trial.fallback;
    scanned = scan(plan, matcher, stopRule(plan, sort, wanted), undefined);
    docsExamined += scanned.examined;
  }
  collection.stats.docsExamined += docsExamined;
  collection.stats.keysExamined += plan.keysExamined();
  const matched = scanned.matched;
  const ordered = sort && plan.sortedPrefix < sort.length ? sortDocuments(matched, sort, wanted) : matched;
  const docs = skip > 0 || wanted !== undefined ? ordered.slice(skip, wanted) : ordered;
  return { docs, plan, docsExamined };
}

/**
 * A full scan of one index, as MongoDB runs a hinted query: documents in index order (ties by
 * insertion), each once, only those the index holds.
 */
function scanIndex(
  collection: Collection,
  index: Index,
  matcher: Matcher,
  wanted: number | undefined,
): { docs: Document[]; examined: number } {
  const seen = new Set<string>();
  const docs: Document[] = [];
  let examined = 0;
  for (const entry of index.scan({ prefix: [] })) {
    if (wanted !== undefined && docs.length >= wanted) break;
    if (seen.has(entry.id)) continue;
    seen.add(entry.id);
    const doc = collection.docs.get(entry.id);
    if (!doc) continue;
    examined++;
    if (matcher.test(doc)) docs.push(doc);
  }
  return { docs, examined };
}

interface StopRule {
  /** Stop once this many documents have matched… */
  enough: number;
  /** …and, when candidates are ordered by a prefix of the sort only, once a candidate leaves the last one's tie. */
  prefix?: SortSpec;
}

function stopRule(plan: QueryPlan, sort: SortSpec | undefined, wanted: number | undefined): StopRule | undefined {
  if (wanted === undefined) return undefined;
  if (!sort || plan.sortedPrefix >= sort.length) return { enough: wanted };
  if (plan.sortedPrefix > 0) return { enough: wanted, prefix: sort.slice(0, plan.sortedPrefix) };
  return undefined;
}

/** Runs the filter over a plan's candidates, stopping by `rule`, or giving up after `budget` candidates. */
function scan(
  plan: QueryPlan,
  matcher: Matcher,
  rule: StopRule | undefined,
  budget: number | undefined,
): { matched: Document[]; examined: number; gaveUp: boolean } {
  const matched: Document[] = [];
  let examined = 0;
  let boundary: unknown[] | undefined;
  for (const doc of plan.candidates()) {
    if (budget !== undefined && examined >= budget) return { matched, examined, gaveUp: true };
    examined++;
    if (!matcher.test(doc)) continue;
    if (boundary && rule?.prefix) {
      // Past the tie of the last document needed: nothing later can sort before it.
      if (compareSortKeys(sortKey(doc, rule.prefix), boundary, rule.prefix) !== 0) break;
    }
    matched.push(doc);
    if (rule && !boundary && matched.length >= rule.enough) {
      if (!rule.prefix) break;
      boundary = sortKey(doc, rule.prefix);
    }
  }
  return { matched, examined, gaveUp: false };
}

/** MongoDB's explain output for a query that has run. */
export function explainQuery(ns: string, filter: Document, result: QueryResult, millis: number): Document {
  const winningPlan = result.plan?.describe() ?? { stage: 'EOF' };
  return {
    explainVersion: '1',
    queryPlanner: { namespace: ns, parsedQuery: asSent(filter), winningPlan, rejectedPlans: [] },
    executionStats: {
      executionSuccess: true,
      nReturned: result.docs.length,
      executionTimeMillis: millis,
      totalKeysExamined: result.plan?.keysExamined() ?? 0,
      totalDocsExamined: result.docsExamined,
    },
    ok: 1,
  };
}

/** A prepared filter with its regular expressions as the client sent them (not their translations). */
function asSent(value: unknown): unknown {
  if (value instanceof PcreRegExp) return new BSONRegExp(value.pattern, value.options);
  if (Array.isArray(value)) return value.map(asSent);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asSent(v)]));
  return value;
}
