import type { Document } from 'bson';
import { badValue, MongoCommandError, notSupported } from '../errors';
import { prepareFilter } from '../query/matcher';
import { ID_INDEX, type Collection } from '../storage/collection';
import { specOptions, type IndexSpec } from '../storage/indexes';
import { isNumeric, isPlainObject, setField, toNumber, valueKey } from '../storage/values';
import { asDocument, asInteger, checkFields, collectionName, type CommandHandler } from './context';

const IGNORED_INDEX_OPTIONS = new Set(['v', 'ns', 'background']);
const INDEX_OPTIONS = new Set([
  'key',
  'name',
  'unique',
  'sparse',
  'partialFilterExpression',
  'expireAfterSeconds',
  'collation',
]);
/** Operators MongoDB allows in a partial index's filter. */
const PARTIAL_OPERATORS = new Set(['$eq', '$exists', '$gt', '$gte', '$lt', '$lte', '$type', '$and', '$or', '$in']);

function parseKey(raw: unknown): Record<string, 1 | -1> {
  if (!isPlainObject(raw) || Object.keys(raw).length === 0) {
    throw new MongoCommandError('CannotCreateIndex', 'Index keys cannot be an empty field');
  }
  const key: Record<string, 1 | -1> = {};
  for (const [field, direction] of Object.entries(raw)) {
    if (field === '$**' || field.endsWith('.$**')) throw notSupported(`wildcard indexes (${field})`);
    if (typeof direction === 'string') throw notSupported(`${direction} indexes (on ${field})`);
    if (!isNumeric(direction) || toNumber(direction) === 0 || Number.isNaN(toNumber(direction))) {
      throw new MongoCommandError(
        'CannotCreateIndex',
        `Values in the index key pattern can only be positive or negative numbers, found ${String(direction)} for ${field}`,
      );
    }
    if (field === '' || field.startsWith('$') || field.split('.').some((p) => p === '')) {
      throw new MongoCommandError('CannotCreateIndex', `Index key contains an illegal field name: '${field}'`);
    }
    setField(key, field, toNumber(direction) > 0 ? 1 : -1);
  }
  return key;
}

function checkPartialFilter(filter: Document): void {
  for (const [key, condition] of Object.entries(filter)) {
    if (key.startsWith('$')) {
      if (!PARTIAL_OPERATORS.has(key)) throw badValue(`Expression not supported in partial index: ${key}`);
      for (const clause of condition as Document[]) checkPartialFilter(clause);
      continue;
    }
    if (isPlainObject(condition) && Object.keys(condition)[0]?.startsWith('$')) {
      for (const [op, operand] of Object.entries(condition)) {
        if (!PARTIAL_OPERATORS.has(op) || (op === '$exists' && operand !== true)) {
          throw badValue(`Expression not supported in partial index: ${key} ${op}`);
        }
      }
    } else if (condition instanceof RegExp) {
      throw badValue(`Expression not supported in partial index: ${key} $regex`);
    }
  }
}

function parseIndexSpec(raw: unknown): IndexSpec {
  if (!isPlainObject(raw)) throw badValue('an index specification must be an object');
  for (const [field, value] of Object.entries(raw)) {
    if (IGNORED_INDEX_OPTIONS.has(field)) continue;
    if (field === 'collation') {
      if (isPlainObject(value) && value['locale'] === 'simple') continue;
      throw notSupported('collation');
    }
    if (!INDEX_OPTIONS.has(field)) throw notSupported(`the index option '${field}'`);
  }
  const key = parseKey(raw['key']);
  const name = raw['name'];
  if (typeof name !== 'string' || name.length === 0)
    throw new MongoCommandError('CannotCreateIndex', 'index name must be a non-empty string');
  const spec: IndexSpec = { name, key };
  if (raw['unique'] === true) spec.unique = true;
  if (raw['sparse'] === true) spec.sparse = true;
  const partial = asDocument(raw['partialFilterExpression'], 'partialFilterExpression');
  if (partial) {
    checkPartialFilter(prepareFilter(partial, 'partialFilterExpression'));
    spec.partialFilterExpression = partial;
  }
  const ttl = asInteger(raw['expireAfterSeconds'], 'expireAfterSeconds');
  if (ttl !== undefined) {
    if (ttl < 0)
      throw new MongoCommandError(
        'CannotCreateIndex',
        "TTL index 'expireAfterSeconds' option must be within an acceptable range",
      );
    spec.expireAfterSeconds = ttl;
  }
  if (name === ID_INDEX.name && valueKey(key) !== valueKey(ID_INDEX.key)) {
    throw new MongoCommandError('CannotCreateIndex', "The index name '_id_' is reserved for the _id index");
  }
  return spec;
}

function sameOptions(a: IndexSpec, b: IndexSpec): boolean {
  return valueKey(specOptions(a)) === valueKey(specOptions(b));
}

/** Whether the index already exists as asked (a no-op); throws MongoDB's errors for near-misses. */
function alreadyExists(collection: Collection, spec: IndexSpec): boolean {
  const sameName = collection.indexes.get(spec.name);
  if (sameName) {
    if (
      valueKey(sameName.spec.key) === valueKey(spec.key) &&
      (spec.name === ID_INDEX.name || sameOptions(sameName.spec, spec))
    )
      return true;
    throw new MongoCommandError(
      'IndexKeySpecsConflict',
      `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${JSON.stringify({ v: 2, key: spec.key, name: spec.name, ...specOptions(spec) })}, existing index: ${JSON.stringify(sameName.describe())}`,
    );
  }
  const sameKey = [...collection.indexes.values()].find((i) => valueKey(i.spec.key) === valueKey(spec.key));
  if (sameKey) {
    throw new MongoCommandError(
      'IndexOptionsConflict',
      sameOptions(sameKey.spec, spec)
        ? `Index already exists with a different name: ${sameKey.name}`
        : `An existing index has the same key pattern but different options: ${sameKey.name}`,
    );
  }
  return false;
}

const createIndexes: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'createIndexes', ['indexes', 'commitQuorum']);
  const name = collectionName(cmd, 'createIndexes');
  const raw = cmd['indexes'];
  if (!Array.isArray(raw) || raw.length === 0) throw badValue('Must specify at least one index to create');
  const specs = raw.map(parseIndexSpec);
  const existed = ctx.engine.collection(ctx.db, name) !== undefined;
  const collection = ctx.engine.ensureCollection(ctx.db, name);
  const before = collection.indexes.size;
  const created: string[] = [];
  try {
    for (const spec of specs) {
      if (alreadyExists(collection, spec)) continue;
      ctx.engine.createIndex(collection, spec);
      created.push(spec.name);
    }
  } catch (error) {
    // All or nothing, as in MongoDB: drop what this command built before the failure.
    for (const indexName of created) ctx.engine.dropIndex(collection, indexName);
    throw error;
  }
  return {
    numIndexesBefore: before,
    numIndexesAfter: collection.indexes.size,
    createdCollectionAutomatically: !existed,
    ...(created.length === 0 ? { note: 'all indexes already exist' } : {}),
    ok: 1,
  };
};

const listIndexes: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'listIndexes', ['cursor']);
  const name = collectionName(cmd, 'listIndexes');
  const collection = ctx.engine.collection(ctx.db, name);
  if (!collection) throw new MongoCommandError('NamespaceNotFound', `ns does not exist: ${ctx.db}.${name}`);
  const docs = [...collection.indexes.values()].map((index) => index.describe());
  const cursor = asDocument(cmd['cursor'], 'cursor');
  return ctx.cursors.first(`${ctx.db}.$cmd.listIndexes.${name}`, docs, {
    batchSize: asInteger(cursor?.['batchSize'], 'batchSize'),
  });
};

function indexNamesToDrop(collection: Collection, target: unknown): string[] {
  if (target === '*') return [...collection.indexes.keys()].filter((n) => n !== ID_INDEX.name);
  if (typeof target === 'string') return [target];
  if (Array.isArray(target) && target.every((t) => typeof t === 'string')) return target as string[];
  if (isPlainObject(target)) {
    const found = [...collection.indexes.values()].find((i) => valueKey(i.spec.key) === valueKey(target));
    if (!found) throw new MongoCommandError('IndexNotFound', `can't find index with key: ${JSON.stringify(target)}`);
    return [found.name];
  }
  throw badValue('index must be a name, a key pattern, an array of names or "*"');
}

const dropIndexes: CommandHandler = (ctx, cmd) => {
  const commandName = 'dropIndexes' in cmd ? 'dropIndexes' : 'deleteIndexes';
  checkFields(cmd, commandName, ['index']);
  const name = collectionName(cmd, commandName);
  const collection = ctx.engine.collection(ctx.db, name);
  if (!collection) throw new MongoCommandError('NamespaceNotFound', `ns not found ${ctx.db}.${name}`);
  const names = indexNamesToDrop(collection, cmd['index']);
  for (const indexName of names) {
    if (indexName === ID_INDEX.name) throw new MongoCommandError('InvalidOptions', 'cannot drop _id index');
    if (!collection.indexes.has(indexName)) {
      throw new MongoCommandError('IndexNotFound', `index not found with name [${indexName}]`);
    }
  }
  const before = collection.indexes.size;
  for (const indexName of names) ctx.engine.dropIndex(collection, indexName);
  return {
    nIndexesWas: before,
    ...(cmd['index'] === '*' ? { msg: 'non-_id indexes dropped for collection' } : {}),
    ok: 1,
  };
};

export const indexCommands: Record<string, CommandHandler> = {
  createIndexes,
  listIndexes,
  dropIndexes,
  deleteIndexes: dropIndexes,
};
