import type { Document } from 'bson';
import { badValue, MongoCommandError, notSupported } from '../errors';
import { runQuery } from '../query/execute';
import { compileFilter, type Matcher } from '../query/matcher';
import { compileProjection } from '../query/projection';
import { parseSort } from '../query/sort';
import { applyUpdate } from '../query/apply-update';
import { parseUpdate, type ParsedUpdate } from '../query/update';
import { upsertSeed } from '../query/upsert';
import type { Collection } from '../storage/collection';
import { getField, isPlainObject, Rank, typeRank } from '../storage/values';
import {
  asBoolean,
  asDocument,
  assertHint,
  assertNoCollation,
  assertNoLet,
  checkFields,
  checkStatementFields,
  collectionName,
  type CommandContext,
  type CommandHandler,
} from './context';

/** A failed statement as a write error entry; anything but a command error is a bug and propagates. */
function writeError(index: number, error: unknown): Document {
  if (error instanceof MongoCommandError) return { index, code: error.code, errmsg: error.message, ...error.extra };
  throw error;
}

function writeReply(fields: Document, writeErrors: Document[]): Document {
  return writeErrors.length > 0 ? { ...fields, writeErrors, ok: 1 } : { ...fields, ok: 1 };
}

/**
 * What MongoDB (5.0 and later) refuses to store. `$`-prefixed field names are allowed in an
 * inserted document, at the top level and nested, except inside `_id`.
 */
export function assertStorable(doc: unknown): asserts doc is Document {
  if (!isPlainObject(doc)) throw badValue('a document to insert must be an object');
  const id = getField(doc, '_id');
  if (id === undefined) return;
  const rank = typeRank(id);
  if (rank === Rank.Array) throw new MongoCommandError('InvalidIdField', "The '_id' value cannot be of type array");
  if (rank === Rank.RegExp) throw badValue("can't use a regex for _id");
  assertNoDollarFields(id);
}

function assertNoDollarFields(value: unknown): void {
  if (Array.isArray(value)) return value.forEach(assertNoDollarFields);
  if (!isPlainObject(value)) return;
  for (const [key, inner] of Object.entries(value)) {
    if (key.startsWith('$')) {
      throw new MongoCommandError(
        'DollarPrefixedFieldName',
        `_id fields may not contain '$'-prefixed fields: ${key} is not valid for storage.`,
      );
    }
    assertNoDollarFields(inner);
  }
}

const insert: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'insert', ['documents', 'ordered', 'bypassDocumentValidation']);
  const name = collectionName(cmd, 'insert');
  const documents = cmd['documents'];
  if (!Array.isArray(documents)) throw badValue('insert needs a documents array');
  const ordered = cmd['ordered'] !== false;
  const collection = ctx.engine.ensureCollection(ctx.db, name);
  const writeErrors: Document[] = [];
  let n = 0;
  for (const [index, doc] of documents.entries()) {
    try {
      assertStorable(doc);
      ctx.engine.insert(collection, doc);
      n++;
    } catch (error) {
      writeErrors.push(writeError(index, error));
      if (ordered) break;
    }
  }
  return writeReply({ n }, writeErrors);
};

interface UpdateResult {
  n: number;
  nModified: number;
  upserted?: unknown;
}

interface UpdateStatement {
  matcher: Matcher;
  update: ParsedUpdate;
  multi: boolean;
  upsert: boolean;
}

/** Inserts the document an upsert creates (creating the collection if needed); returns it as stored. */
function upsertInsert(ctx: CommandContext, name: string, statement: UpdateStatement): Document {
  const seed = upsertSeed(statement.matcher.filter);
  const { doc } = applyUpdate(seed, statement.update, { filter: statement.matcher.filter, inserting: true });
  return ctx.engine.insert(ctx.engine.ensureCollection(ctx.db, name), doc, 'upsert');
}

function runUpdate(ctx: CommandContext, name: string, statement: UpdateStatement, progress: UpdateResult): void {
  const collection = ctx.engine.collection(ctx.db, name);
  const { docs } = runQuery(collection, statement.matcher, statement.multi ? {} : { limit: 1 });
  for (const before of docs) {
    const { doc: after, modified } = applyUpdate(before, statement.update, { filter: statement.matcher.filter });
    progress.n++;
    if (!modified) continue;
    ctx.engine.replace(collection as Collection, before, after);
    progress.nModified++;
  }
  if (docs.length > 0 || !statement.upsert) return;
  const stored = upsertInsert(ctx, name, statement);
  progress.n++;
  progress.upserted = stored['_id'];
}

function parseUpdateStatement(collection: Collection | undefined, raw: unknown): UpdateStatement {
  if (!isPlainObject(raw)) throw badValue('an update statement must be an object');
  checkStatementFields(raw, 'update.updates', [
    'q',
    'u',
    'upsert',
    'multi',
    'arrayFilters',
    'hint',
    'collation',
    'c',
    'upsertSupplied',
  ]);
  if (raw['c'] !== undefined) throw notSupported('let variables (c) in an update');
  assertNoCollation(raw['collation']);
  assertHint(collection, raw['hint']);
  const update = parseUpdate(raw['u'], raw['arrayFilters']);
  const multi = asBoolean(raw['multi']);
  if (multi && update.kind === 'replacement') {
    throw new MongoCommandError('FailedToParse', 'multi update is not supported for replacement-style update');
  }
  return {
    matcher: compileFilter(asDocument(raw['q'], 'q') ?? {}, 'query'),
    update,
    multi,
    upsert: asBoolean(raw['upsert']),
  };
}

const update: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'update', ['updates', 'ordered', 'bypassDocumentValidation', 'let']);
  assertNoLet(cmd['let']);
  const name = collectionName(cmd, 'update');
  const updates = cmd['updates'];
  if (!Array.isArray(updates)) throw badValue('update needs an updates array');
  const ordered = cmd['ordered'] !== false;
  let n = 0;
  let nModified = 0;
  const upserted: Document[] = [];
  const writeErrors: Document[] = [];
  for (const [index, raw] of updates.entries()) {
    const progress: UpdateResult = { n: 0, nModified: 0 };
    try {
      runUpdate(ctx, name, parseUpdateStatement(ctx.engine.collection(ctx.db, name), raw), progress);
      if (progress.upserted !== undefined) upserted.push({ index, _id: progress.upserted });
    } catch (error) {
      writeErrors.push(writeError(index, error));
      if (ordered) break;
    } finally {
      // A multi-update that fails half-way keeps what it did, as in MongoDB.
      n += progress.n;
      nModified += progress.nModified;
    }
  }
  return writeReply({ n, nModified, ...(upserted.length > 0 ? { upserted } : {}) }, writeErrors);
};

const remove: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'delete', ['deletes', 'ordered', 'let']);
  assertNoLet(cmd['let']);
  const name = collectionName(cmd, 'delete');
  const deletes = cmd['deletes'];
  if (!Array.isArray(deletes)) throw badValue('delete needs a deletes array');
  const ordered = cmd['ordered'] !== false;
  const collection = ctx.engine.collection(ctx.db, name);
  let n = 0;
  const writeErrors: Document[] = [];
  for (const [index, statement] of deletes.entries()) {
    try {
      if (!isPlainObject(statement)) throw badValue('a delete statement must be an object');
      checkStatementFields(statement, 'delete.deletes', ['q', 'limit', 'hint', 'collation']);
      assertNoCollation(statement['collation']);
      assertHint(collection, statement['hint']);
      const limit = statement['limit'];
      if (limit !== 0 && limit !== 1)
        throw badValue(`The limit field in delete objects must be 0 or 1. Got ${String(limit)}`);
      const matcher = compileFilter(asDocument(statement['q'], 'q') ?? {}, 'query');
      const { docs } = runQuery(collection, matcher, limit === 1 ? { limit: 1 } : {});
      for (const doc of docs) ctx.engine.remove(collection as Collection, doc);
      n += docs.length;
    } catch (error) {
      writeErrors.push(writeError(index, error));
      if (ordered) break;
    }
  }
  return writeReply({ n }, writeErrors);
};

const FIND_AND_MODIFY_FIELDS = [
  'query',
  'sort',
  'remove',
  'update',
  'new',
  'fields',
  'upsert',
  'arrayFilters',
  'bypassDocumentValidation',
  'hint',
  'collation',
  'let',
];

const findAndModify: CommandHandler = (ctx, cmd) => {
  const commandName = 'findAndModify' in cmd ? 'findAndModify' : 'findandmodify';
  checkFields(cmd, commandName, FIND_AND_MODIFY_FIELDS);
  assertNoLet(cmd['let']);
  assertNoCollation(cmd['collation']);
  const name = collectionName(cmd, commandName);
  const matcher = compileFilter(asDocument(cmd['query'], 'query') ?? {}, 'query');
  const sort = parseSort(cmd['sort']);
  const remove = asBoolean(cmd['remove']);
  const upsert = asBoolean(cmd['upsert']);
  const returnNew = asBoolean(cmd['new']);
  if (remove && cmd['update'] !== undefined) throw badValue('Cannot specify both an update and remove=true');
  if (!remove && cmd['update'] === undefined) throw badValue('Either an update or remove=true must be specified');
  if (remove && upsert) throw badValue('Cannot specify both upsert=true and remove=true');
  if (remove && returnNew)
    throw badValue("Cannot specify both new=true and remove=true; 'remove' always returns the deleted document");
  const parsed = remove ? undefined : parseUpdate(cmd['update'], cmd['arrayFilters']);
  const projector = compileProjection(cmd['fields'], matcher.filter);
  const project = (doc: Document | undefined) => (doc ? ((projector ? projector([doc])[0] : doc) ?? null) : null);
  const collection = ctx.engine.collection(ctx.db, name);
  assertHint(collection, cmd['hint']);

  const target = runQuery(collection, matcher, { ...(sort ? { sort } : {}), limit: 1 }).docs[0];
  if (remove) {
    if (!target || !collection) return { lastErrorObject: { n: 0 }, value: null, ok: 1 };
    ctx.engine.remove(collection, target);
    return { lastErrorObject: { n: 1 }, value: project(target), ok: 1 };
  }
  const update = parsed as ParsedUpdate;
  if (target) {
    const { doc: after, modified } = applyUpdate(target, update, { filter: matcher.filter });
    if (modified) ctx.engine.replace(collection as Collection, target, after);
    return { lastErrorObject: { n: 1, updatedExisting: true }, value: project(returnNew ? after : target), ok: 1 };
  }
  if (!upsert) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
  const stored = upsertInsert(ctx, name, { matcher, update, multi: false, upsert: true });
  return {
    lastErrorObject: { n: 1, updatedExisting: false, upserted: stored['_id'] },
    value: returnNew ? project(stored) : null,
    ok: 1,
  };
};

export const writeCommands: Record<string, CommandHandler> = {
  insert,
  update,
  delete: remove,
  findAndModify,
  findandmodify: findAndModify,
};
