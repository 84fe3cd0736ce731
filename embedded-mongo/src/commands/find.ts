import { Long, type Document } from 'bson';
import { badValue, MongoCommandError, notSupported } from '../errors';
import { explainQuery, runQuery, type QueryResult } from '../query/execute';
import { compileFilter } from '../query/matcher';
import { MISSING, pathValues } from '../query/paths';
import { compileProjection } from '../query/projection';
import { parseSort } from '../query/sort';
import { compareValues, valueKey } from '../storage/values';
import {
  asBoolean,
  asDocument,
  asInteger,
  assertHint,
  hintedIndex,
  assertNoCollation,
  assertNoLet,
  checkFields,
  collectionName,
  type CommandContext,
  type CommandHandler,
} from './context';

const FIND_FIELDS = [
  'filter',
  'projection',
  'sort',
  'skip',
  'limit',
  'batchSize',
  'singleBatch',
  'hint',
  'noCursorTimeout',
  'allowPartialResults',
  'allowDiskUse',
  'collation',
  'let',
  'returnKey',
  'showRecordId',
  'tailable',
  'awaitData',
  'oplogReplay',
  'max',
  'min',
];

interface PreparedFind {
  ns: string;
  filter: Document;
  result: QueryResult;
  docs: Document[];
  batchSize: number | undefined;
  singleBatch: boolean;
}

function prepareFind(ctx: CommandContext, cmd: Document): PreparedFind {
  checkFields(cmd, 'find', FIND_FIELDS);
  for (const option of ['returnKey', 'showRecordId', 'tailable', 'awaitData', 'oplogReplay']) {
    if (asBoolean(cmd[option])) throw notSupported(`the find option ${option}`);
  }
  if (cmd['max'] !== undefined || cmd['min'] !== undefined) throw notSupported('the find options min and max');
  assertNoCollation(cmd['collation']);
  assertNoLet(cmd['let']);
  const name = collectionName(cmd, 'find');
  const collection = ctx.engine.collection(ctx.db, name);
  const hint = hintedIndex(collection, cmd['hint']);
  const matcher = compileFilter(asDocument(cmd['filter'], 'filter'));
  const sort = parseSort(cmd['sort']);
  const skip = asInteger(cmd['skip'], 'skip') ?? 0;
  if (skip < 0) throw badValue('skip value must be non-negative');
  const rawLimit = asInteger(cmd['limit'], 'limit') ?? 0;
  const batchSize = asInteger(cmd['batchSize'], 'batchSize');
  if (batchSize !== undefined && batchSize < 0) throw badValue('batchSize value must be non-negative');
  const projector = compileProjection(cmd['projection'], matcher.filter);
  const limit = Math.abs(rawLimit);
  const result = runQuery(collection, matcher, {
    ...(sort ? { sort } : {}),
    skip,
    limit,
    ...(hint ? { hint } : {}),
  });
  const docs = projector ? projector(result.docs) : result.docs;
  return {
    ns: `${ctx.db}.${name}`,
    filter: matcher.filter,
    result,
    docs,
    batchSize,
    singleBatch: asBoolean(cmd['singleBatch']) || rawLimit < 0,
  };
}

const find: CommandHandler = (ctx, cmd) => {
  const { ns, docs, batchSize, singleBatch } = prepareFind(ctx, cmd);
  return ctx.cursors.first(ns, docs, { batchSize, singleBatch, noTimeout: asBoolean(cmd['noCursorTimeout']) });
};

const explain: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'explain', ['verbosity']);
  const inner = asDocument(cmd['explain'], 'explain');
  if (!inner || Object.keys(inner)[0] !== 'find') throw notSupported('explain of anything but find');
  const started = Date.now();
  const prepared = prepareFind(ctx, { ...inner, $db: ctx.db });
  return explainQuery(prepared.ns, prepared.filter, prepared.result, Date.now() - started);
};

const getMore: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'getMore', ['collection', 'batchSize', 'term', 'lastKnownCommittedOpTime']);
  const id = cmd['getMore'];
  if (!(id instanceof Long) && typeof id !== 'number') {
    throw new MongoCommandError('TypeMismatch', "BSON field 'getMore.getMore' is the wrong type, expected type 'long'");
  }
  const name = collectionName(cmd, 'collection');
  return ctx.cursors.more(id, `${ctx.db}.${name}`, asInteger(cmd['batchSize'], 'batchSize'));
};

const killCursors: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'killCursors', ['cursors']);
  collectionName(cmd, 'killCursors');
  const ids = cmd['cursors'];
  if (!Array.isArray(ids) || !ids.every((id) => id instanceof Long || typeof id === 'number')) {
    throw badValue('killCursors needs an array of cursor ids');
  }
  return ctx.cursors.kill(ids as (Long | number)[]);
};

const count: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'count', ['query', 'limit', 'skip', 'hint', 'collation', 'fields']);
  assertNoCollation(cmd['collation']);
  const collection = ctx.engine.collection(ctx.db, collectionName(cmd, 'count'));
  const hint = hintedIndex(collection, cmd['hint']);
  const matcher = compileFilter(asDocument(cmd['query'], 'query'), 'query');
  const skip = asInteger(cmd['skip'], 'skip') ?? 0;
  if (skip < 0) throw badValue('skip value must be non-negative');
  const limit = Math.abs(asInteger(cmd['limit'], 'limit') ?? 0);
  let n: number;
  if (!collection) n = 0;
  else if (Object.keys(matcher.filter).length === 0 && (!hint || hint.complete))
    n = Math.max(0, collection.docs.size - skip);
  else n = runQuery(collection, matcher, { skip, limit, ...(hint ? { hint } : {}) }).docs.length;
  if (limit > 0) n = Math.min(n, limit);
  return { n, ok: 1 };
};

const distinct: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'distinct', ['key', 'query', 'hint', 'collation']);
  assertNoCollation(cmd['collation']);
  const key = cmd['key'];
  if (typeof key !== 'string' || key === '') throw badValue('distinct needs a key');
  const collection = ctx.engine.collection(ctx.db, collectionName(cmd, 'distinct'));
  assertHint(collection, cmd['hint']);
  const { docs } = runQuery(collection, compileFilter(asDocument(cmd['query'], 'query'), 'query'));
  const values = new Map<string, unknown>();
  const add = (value: unknown) => {
    const k = valueKey(value);
    if (!values.has(k)) values.set(k, value);
  };
  for (const doc of docs) {
    for (const value of pathValues(doc, key)) {
      if (value === MISSING || value === undefined) continue;
      if (Array.isArray(value)) value.forEach(add);
      else add(value);
    }
  }
  return { values: [...values.values()].sort(compareValues), ok: 1 };
};

export const readCommands: Record<string, CommandHandler> = {
  find,
  explain,
  getMore,
  killCursors,
  count,
  distinct,
};
