import { badValue, notSupported } from '../errors';
import { parsePipeline, runPipeline } from '../query/pipeline';
import {
  asBoolean,
  asDocument,
  asInteger,
  hintedIndex,
  assertNoCollation,
  assertNoLet,
  checkFields,
  type CommandHandler,
} from './context';

const aggregate: CommandHandler = (ctx, cmd) => {
  checkFields(cmd, 'aggregate', [
    'pipeline',
    'cursor',
    'explain',
    'allowDiskUse',
    'hint',
    'collation',
    'let',
    'bypassDocumentValidation',
  ]);
  if (asBoolean(cmd['explain'])) throw notSupported('explain of an aggregation');
  assertNoLet(cmd['let']);
  assertNoCollation(cmd['collation']);
  const name = cmd['aggregate'];
  if (typeof name !== 'string' || name === '') throw notSupported('a database-level aggregation');
  const cursor = asDocument(cmd['cursor'], 'cursor');
  if (!cursor) throw badValue("The 'cursor' option is required, except for aggregate with the explain argument");
  const batchSize = asInteger(cursor['batchSize'], 'cursor.batchSize');
  const stages = parsePipeline(cmd['pipeline']);
  const collection = ctx.engine.collection(ctx.db, name);
  const hint = hintedIndex(collection, cmd['hint']);
  const results = runPipeline(
    { collection, resolve: (other) => ctx.engine.collection(ctx.db, other), ...(hint ? { hint } : {}) },
    stages,
  );
  return ctx.cursors.first(`${ctx.db}.${name}`, results, { batchSize });
};

export const aggregateCommands: Record<string, CommandHandler> = { aggregate };
