import type { Document } from 'bson';
import { notSupported } from '../errors';
import { compileFilter } from '../query/matcher';
import { ID_INDEX } from '../storage/collection';
import { isPlainObject } from '../storage/values';
import { asBoolean, asDocument, asInteger, checkFields, collectionName, type CommandHandler } from './context';

/** Options of `create` that would change how a collection behaves; embedded-mongo has none of them. */
const CREATE_OPTIONS = [
  'capped',
  'size',
  'max',
  'validator',
  'validationLevel',
  'validationAction',
  'viewOn',
  'pipeline',
  'timeseries',
  'clusteredIndex',
  'changeStreamPreAndPostImages',
  'expireAfterSeconds',
  'collation',
  'storageEngine',
  'indexOptionDefaults',
  'idIndex',
  'autoIndexId',
  'encryptedFields',
];

const create: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'create', CREATE_OPTIONS);
  for (const option of CREATE_OPTIONS) {
    const value = cmd[option];
    if (value === undefined || value === null || value === false) continue;
    if (option === 'collation' && isPlainObject(value) && value['locale'] === 'simple') continue;
    throw notSupported(`the collection option '${option}'`);
  }
  const name = collectionName(cmd, 'create');
  // MongoDB 7.0 answers success when the collection exists with the same options (here: none).
  if (!ctx.engine.collection(ctx.db, name)) ctx.engine.createCollection(ctx.db, name, {});
  return { ok: 1 };
};

const drop: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'drop', []);
  const name = collectionName(cmd, 'drop');
  const collection = ctx.engine.collection(ctx.db, name);
  const nIndexesWas = collection?.indexes.size ?? 0;
  ctx.engine.dropCollection(ctx.db, name);
  return { ns: `${ctx.db}.${name}`, nIndexesWas, ok: 1 };
};

const dropDatabase: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'dropDatabase', []);
  ctx.engine.dropDatabase(ctx.db);
  return { dropped: ctx.db, ok: 1 };
};

const listCollections: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'listCollections', ['filter', 'nameOnly', 'authorizedCollections', 'cursor']);
  const filter = compileFilter(asDocument(cmd['filter'], 'filter'));
  const nameOnly = asBoolean(cmd['nameOnly']);
  const docs = ctx.engine
    .collections(ctx.db)
    .map((c): Document => ({
      name: c.name,
      type: 'collection',
      options: c.options,
      info: { readOnly: false },
      idIndex: { v: 2, key: ID_INDEX.key, name: ID_INDEX.name },
    }))
    .filter((doc) => filter.test(doc))
    .map((doc) => (nameOnly ? { name: doc['name'], type: doc['type'] } : doc));
  const cursor = asDocument(cmd['cursor'], 'cursor');
  return ctx.cursors.first(`${ctx.db}.$cmd.listCollections`, docs, {
    batchSize: asInteger(cursor?.['batchSize'], 'batchSize'),
  });
};

const listDatabases: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'listDatabases', ['filter', 'nameOnly', 'authorizedDatabases']);
  const filter = compileFilter(asDocument(cmd['filter'], 'filter'));
  const nameOnly = asBoolean(cmd['nameOnly']);
  const databases = ctx.engine
    .databaseNames()
    .map((name): Document => ({ name, sizeOnDisk: 0, empty: false }))
    .filter((doc) => filter.test(doc))
    .map((doc) => (nameOnly ? { name: doc['name'] } : doc));
  return { databases, ...(nameOnly ? {} : { totalSize: 0, totalSizeMb: 0 }), ok: 1 };
};

export const collectionCommands: Record<string, CommandHandler> = {
  create,
  drop,
  dropDatabase,
  listCollections,
  listDatabases,
};
