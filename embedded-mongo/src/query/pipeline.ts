import { Aggregator } from 'mingo/aggregator';
import type { Document } from 'bson';
import { badValue, MongoCommandError, notSupported } from '../errors';
import type { Collection } from '../storage/collection';
import type { Index } from '../storage/indexes';
import { cloneValue, getField, isPlainObject, setField, valueKey } from '../storage/values';
import { runQuery, type QueryOptions } from './execute';
import { asBadValue, compileFilter, prepareExpression } from './matcher';
import { mingoOptions } from './mingo-context';
import { MISSING, pathValues, splitPath } from './paths';
import { isInclusion, projectionOrder } from './projection';
import { checkComputedPath, checkStageFieldNames } from './prototype-names';
import { parseSort, sortDocuments } from './sort';

/** Where a pipeline finds its input and the collections `$lookup` joins. */
export interface PipelineSource {
  collection: Collection | undefined;
  resolve(name: string): Collection | undefined;
  /** A hinted index, scanned by the pipeline's leading query. */
  hint?: Index;
}

/** Stages run here, because mingo's differ from MongoDB's on BSON values (sort, match, lookup). */
const NATIVE_STAGES = new Set(['$match', '$sort', '$skip', '$limit', '$count', '$lookup', '$facet', '$sortByCount']);
/** Stages whose mingo implementation behaves like MongoDB's for the documents stored here. */
const MINGO_STAGES = new Set([
  '$group',
  '$project',
  '$unwind',
  '$addFields',
  '$set',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
]);
/** MongoDB stages embedded-mongo refuses (as opposed to names MongoDB does not know either). */
const KNOWN_STAGES = new Set([
  '$bucket',
  '$bucketAuto',
  '$changeStream',
  '$changeStreamSplitLargeEvent',
  '$collStats',
  '$currentOp',
  '$densify',
  '$documents',
  '$fill',
  '$geoNear',
  '$graphLookup',
  '$indexStats',
  '$listLocalSessions',
  '$listSampledQueries',
  '$listSearchIndexes',
  '$listSessions',
  '$merge',
  '$out',
  '$planCacheStats',
  '$redact',
  '$sample',
  '$search',
  '$searchMeta',
  '$setWindowFields',
  '$shardedDataDistribution',
  '$unionWith',
  '$vectorSearch',
]);

interface Stage {
  name: string;
  spec: unknown;
}

/** Validates a pipeline up front, so nothing runs if any stage is refused. */
export function parsePipeline(pipeline: unknown, nested = false): Stage[] {
  if (!Array.isArray(pipeline)) throw badValue("'pipeline' option must be specified as an array");
  return pipeline.map((stage: unknown) => {
    if (!isPlainObject(stage) || Object.keys(stage).length !== 1) {
      throw new MongoCommandError(
        'Location40415',
        'A pipeline stage specification object must contain exactly one field.',
      );
    }
    const name = Object.keys(stage)[0] as string;
    const spec = stage[name];
    if (!NATIVE_STAGES.has(name) && !MINGO_STAGES.has(name)) {
      if (KNOWN_STAGES.has(name)) throw notSupported(`the aggregation stage ${name}`);
      throw new MongoCommandError('Location40415', `Unrecognized pipeline stage name: '${name}'`);
    }
    if (nested && name === '$facet') throw badValue('$facet is not allowed to be used within a $facet stage');
    return { name, spec: validateStage(name, spec) };
  });
}

function validateStage(name: string, spec: unknown): unknown {
  switch (name) {
    case '$match':
      compileFilter(spec, '$match');
      return spec;
    case '$sort':
      if (!parseSort(spec)) throw badValue('$sort stage must have at least one sort key');
      return spec;
    case '$skip':
    case '$limit': {
      if (typeof spec !== 'number' || !Number.isInteger(spec) || spec < 0 || (name === '$limit' && spec === 0)) {
        throw badValue(
          `invalid argument to ${name} stage: ${name === '$limit' ? 'the limit must be positive' : 'the number to skip cannot be negative'}`,
        );
      }
      return spec;
    }
    case '$count':
      if (typeof spec !== 'string' || spec === '' || spec.startsWith('$') || spec.includes('.')) {
        throw badValue('the count field must be a non-empty string, not start with $ and not contain .');
      }
      return spec;
    case '$lookup':
      return validateLookup(spec);
    case '$facet': {
      if (!isPlainObject(spec) || Object.keys(spec).length === 0)
        throw badValue('$facet requires at least one pipeline');
      const facets: Record<string, Stage[]> = {};
      for (const [key, sub] of Object.entries(spec)) setField(facets, key, parsePipeline(sub, true));
      return facets;
    }
    case '$project':
    case '$addFields':
    case '$set':
    case '$unset':
      checkStageFieldNames(spec, name);
      return prepareExpression(spec);
    case '$unwind':
      if (isPlainObject(spec) && typeof spec['includeArrayIndex'] === 'string')
        checkComputedPath(spec['includeArrayIndex'], '$unwind');
      return prepareExpression(spec);
    default:
      return prepareExpression(spec);
  }
}

interface LookupSpec {
  from: string;
  localField: string;
  foreignField: string;
  as: string;
}

function validateLookup(spec: unknown): LookupSpec {
  if (!isPlainObject(spec)) throw badValue('the $lookup specification must be an Object');
  if ('pipeline' in spec || 'let' in spec) throw notSupported('$lookup with a pipeline or let');
  for (const field of Object.keys(spec)) {
    if (!['from', 'localField', 'foreignField', 'as'].includes(field))
      throw badValue(`unknown argument to $lookup: ${field}`);
  }
  const { from, localField, foreignField, as } = spec;
  if (typeof from !== 'string') {
    throw isPlainObject(from)
      ? notSupported('$lookup from another database')
      : badValue('$lookup needs a from collection name');
  }
  for (const [field, value] of Object.entries({ localField, foreignField, as })) {
    if (typeof value !== 'string' || value === '')
      throw new MongoCommandError(
        'FailedToParse',
        `$lookup argument '${field}' must be a string, is type ${typeof value}`,
      );
  }
  return { from, localField, foreignField, as } as LookupSpec;
}

interface Docs {
  docs: Document[];
  /** False while documents may be stored ones, which mingo must not see (it mutates its input). */
  owned: boolean;
}

/** Runs a validated pipeline over a collection. */
export function runPipeline(source: PipelineSource, stages: Stage[]): Document[] {
  const { input, rest } = leadingQuery(source, stages);
  return run(source, rest, { docs: input, owned: false }).docs;
}

/** A leading `$match`/`$sort`/`$skip`/`$limit` runs as a query, through the indexes. */
function leadingQuery(source: PipelineSource, stages: Stage[]): { input: Document[]; rest: Stage[] } {
  let i = 0;
  let filter: Document = {};
  const options: QueryOptions = source.hint ? { hint: source.hint } : {};
  if (stages[i]?.name === '$match') filter = stages[i++]?.spec as Document;
  if (stages[i]?.name === '$sort') {
    const sort = parseSort(stages[i++]?.spec);
    if (sort) options.sort = sort;
  }
  if (stages[i]?.name === '$skip') options.skip = stages[i++]?.spec as number;
  if (stages[i]?.name === '$limit') options.limit = stages[i++]?.spec as number;
  const { docs } = runQuery(source.collection, compileFilter(filter, '$match'), options);
  return { input: docs, rest: stages.slice(i) };
}

function run(source: PipelineSource, stages: Stage[], input: Docs): Docs {
  let current = input;
  let i = 0;
  while (i < stages.length) {
    const stage = stages[i] as Stage;
    if (isOrderedProject(stage)) {
      const order = projectionOrder(stage.spec as Document);
      const projected = runMingo([stage], current);
      current = { docs: projected.docs.map((out, k) => order(out, current.docs[k] as Document)), owned: true };
      i++;
      continue;
    }
    if (MINGO_STAGES.has(stage.name)) {
      let j = i;
      while (j < stages.length && MINGO_STAGES.has((stages[j] as Stage).name) && !isOrderedProject(stages[j] as Stage))
        j++;
      current = runMingo(stages.slice(i, j), current);
      i = j;
      continue;
    }
    const next = stages[i + 1];
    if (stage.name === '$sort' && next?.name === '$limit') {
      current = { ...current, docs: sortDocuments(current.docs, parseSort(stage.spec) ?? [], next.spec as number) };
      i += 2;
      continue;
    }
    current = runNative(source, stage, current);
    i++;
  }
  return current;
}

/** An inclusion `$project`, run on its own so its result can be put in MongoDB's field order. */
function isOrderedProject(stage: Stage): boolean {
  return stage.name === '$project' && isPlainObject(stage.spec) && isInclusion(stage.spec);
}

function runMingo(stages: Stage[], input: Docs): Docs {
  // An ordered $project reads its input's field order afterwards: it must not see mingo's changes.
  const docs = input.owned && !stages.some(isOrderedProject) ? input.docs : input.docs.map(cloneValue);
  try {
    const pipeline = stages.map((s) => ({ [s.name]: s.spec }));
    return { docs: new Aggregator(pipeline, mingoOptions()).run(docs) as Document[], owned: true };
  } catch (error) {
    throw asBadValue(error);
  }
}

function runNative(source: PipelineSource, stage: Stage, input: Docs): Docs {
  switch (stage.name) {
    case '$match': {
      const matcher = compileFilter(stage.spec, '$match');
      return { ...input, docs: input.docs.filter((doc) => matcher.test(doc)) };
    }
    case '$sort':
      return { ...input, docs: sortDocuments(input.docs, parseSort(stage.spec) ?? []) };
    case '$skip':
      return { ...input, docs: input.docs.slice(stage.spec as number) };
    case '$limit':
      return { ...input, docs: input.docs.slice(0, stage.spec as number) };
    case '$count':
      return { docs: input.docs.length > 0 ? [{ [stage.spec as string]: input.docs.length }] : [], owned: true };
    case '$sortByCount':
      return run(
        source,
        parsePipeline([{ $group: { _id: stage.spec, count: { $sum: 1 } } }, { $sort: { count: -1 } }]),
        input,
      );
    case '$lookup':
      return lookup(source, stage.spec as LookupSpec, input);
    case '$facet': {
      const out: Document = {};
      for (const [name, sub] of Object.entries(stage.spec as Record<string, Stage[]>)) {
        setField(out, name, run(source, sub, input).docs);
      }
      return { docs: [out], owned: input.owned };
    }
    default:
      throw notSupported(`the aggregation stage ${stage.name}`);
  }
}

/**
 * The values a document joins on: a local array joins on its elements (as `$in` would), a foreign
 * array on itself and its elements (as `$eq` would); missing joins as null.
 */
function joinValues(doc: Document, path: string, wholeArrays: boolean): unknown[] {
  const values: unknown[] = [];
  for (const value of pathValues(doc, path)) {
    if (value === MISSING || value === undefined || value === null) values.push(null);
    else if (Array.isArray(value)) {
      if (wholeArrays) values.push(value);
      values.push(...value);
    } else values.push(value);
  }
  return values;
}

/** Finds the foreign documents for a value: through an index on the foreign field, or a hash of the collection. */
function foreignFinder(foreign: Collection | undefined, foreignField: string): (value: unknown) => Iterable<Document> {
  if (!foreign) return () => [];
  const index = [...foreign.indexes.values()].find((i) => i.complete && i.fields[0] === foreignField);
  if (index) {
    return function* (value) {
      if (Array.isArray(value)) return;
      for (const entry of index.scan({ prefix: [value] })) {
        const doc = foreign.docs.get(entry.id);
        if (doc) yield doc;
      }
    };
  }
  const byKey = new Map<string, Document[]>();
  for (const doc of foreign.docs.values()) {
    for (const key of new Set(joinValues(doc, foreignField, true).map(valueKey))) {
      const list = byKey.get(key);
      if (list) list.push(doc);
      else byKey.set(key, [doc]);
    }
  }
  return (value) => byKey.get(valueKey(value)) ?? [];
}

function lookup(source: PipelineSource, spec: LookupSpec, input: Docs): Docs {
  const find = foreignFinder(source.resolve(spec.from), spec.foreignField);
  const docs = input.docs.map((doc) => {
    const seen = new Set<Document>();
    const matches: Document[] = [];
    for (const value of joinValues(doc, spec.localField, false)) {
      for (const match of find(value)) {
        if (seen.has(match)) continue;
        seen.add(match);
        matches.push(match);
      }
    }
    return withPath(doc, spec.as, matches);
  });
  return { docs, owned: false };
}

/** A copy of `doc` with `value` at a dotted path, copying (not mutating) the objects on the way. */
function withPath(doc: Document, path: string, value: unknown): Document {
  const parts = splitPath(path);
  const copy: Document = { ...doc };
  let target = copy;
  for (const part of parts.slice(0, -1)) {
    const next = getField(target, part);
    const copied: Document = isPlainObject(next) ? { ...next } : {};
    setField(target, part, copied);
    target = copied;
  }
  setField(target, parts[parts.length - 1] as string, value);
  return copy;
}
