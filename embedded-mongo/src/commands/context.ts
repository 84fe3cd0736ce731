import type { Document } from 'bson';
import type { Cursors } from '../cursors';
import { badValue, MongoCommandError, notSupported } from '../errors';
import type { Collection } from '../storage/collection';
import type { ServerStats } from '../server-stats';
import type { Engine } from '../storage/engine';
import type { Index } from '../storage/indexes';
import { hasField, isNumeric, isPlainObject, toNumber, valueKey } from '../storage/values';

export interface CommandContext {
  engine: Engine;
  cursors: Cursors;
  /** The database the command runs in (`$db`). */
  db: string;
  connectionId: number;
  /** Connections and operation counters, for `serverStatus`. */
  stats: ServerStats;
  /** The port the server listens on, for `serverStatus`'s host. */
  port: number;
}

export type CommandHandler = (ctx: CommandContext, cmd: Document) => Document;

/** Fields the driver may attach to any command; they change nothing here. */
const GENERIC_FIELDS = new Set([
  '$db',
  'lsid',
  '$clusterTime',
  '$readPreference',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
  'comment',
  'maxTimeMS',
  'writeConcern',
  'readConcern',
]);

const TRANSACTION_FIELDS = ['txnNumber', 'startTransaction', 'autocommit', 'stmtId', 'stmtIds'];

/**
 * Refuses any field the command does not know, as MongoDB's command parser does, so an option
 * embedded-mongo would ignore (and so answer differently) is an error instead.
 */
export function checkFields(cmd: Document, name: string, allowed: readonly string[]): void {
  for (const field of TRANSACTION_FIELDS) {
    if (field in cmd) {
      throw new MongoCommandError(
        'IllegalOperation',
        'Transaction numbers are only allowed on a replica set member or mongos (embedded-mongo is a standalone server without transactions)',
      );
    }
  }
  for (const field of Object.keys(cmd)) {
    if (field === name || GENERIC_FIELDS.has(field) || allowed.includes(field)) continue;
    throw new MongoCommandError(
      'Location40415',
      `BSON field '${name}.${field}' is an unknown field (or an option embedded-mongo does not support).`,
    );
  }
  const readConcern = cmd['readConcern'];
  if (isPlainObject(readConcern)) {
    if (readConcern['afterClusterTime'] !== undefined) throw notSupported('readConcern afterClusterTime');
    if (readConcern['level'] === 'snapshot') throw notSupported("readConcern level 'snapshot'");
  }
}

/** The statement fields allowed inside `updates`/`deletes` entries. */
export function checkStatementFields(statement: Document, where: string, allowed: readonly string[]): void {
  for (const field of Object.keys(statement)) {
    if (!allowed.includes(field)) {
      throw new MongoCommandError(
        'Location40415',
        `BSON field '${where}.${field}' is an unknown field (or an option embedded-mongo does not support).`,
      );
    }
  }
}

export function collectionName(cmd: Document, name: string): string {
  const value = cmd[name];
  if (typeof value !== 'string' || value.length === 0) {
    throw new MongoCommandError(
      'InvalidNamespace',
      `collection name has invalid type ${value === undefined ? 'missing' : typeof value}`,
    );
  }
  return value;
}

/** `collation` changes comparison semantics embedded-mongo doesn't have; only `simple` is accepted. */
export function assertNoCollation(collation: unknown): void {
  if (collation === undefined || collation === null) return;
  if (isPlainObject(collation) && collation['locale'] === 'simple') return;
  throw notSupported('collation');
}

/** `let` variables would change what expressions evaluate to. */
export function assertNoLet(value: unknown): void {
  if (value !== undefined && value !== null) throw notSupported('let');
}

/**
 * The index a `hint` names (by name or key pattern), which must exist. A query that scans it
 * returns documents in its order, and only those it holds (a sparse or partial index leaves some
 * out), as MongoDB's index scan does.
 */
export function hintedIndex(collection: Collection | undefined, hint: unknown): Index | undefined {
  if (hint === undefined || hint === null) return undefined;
  if (isPlainObject(hint) && hasField(hint, '$natural')) throw notSupported('a $natural hint');
  if (typeof hint !== 'string' && !isPlainObject(hint)) throw badValue('hint must be a string or an object');
  const indexes = collection ? [...collection.indexes.values()] : [];
  const found =
    typeof hint === 'string'
      ? indexes.find((i) => i.name === hint)
      : indexes.find((i) => valueKey(i.spec.key) === valueKey(hint));
  if (!found) throw badValue('hint provided does not correspond to an existing index');
  return found;
}

/**
 * For commands that do not scan the hinted index here (writes, distinct): the hint must exist,
 * and may not be a sparse or partial index, whose scan would leave documents out.
 */
export function assertHint(collection: Collection | undefined, hint: unknown): void {
  const index = hintedIndex(collection, hint);
  if (index && !index.complete) throw notSupported('a hint naming a sparse or partial index in this command');
}

export function asInteger(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isNumeric(value))
    throw new MongoCommandError(
      'TypeMismatch',
      `BSON field '${field}' is the wrong type '${typeof value}', expected a number`,
    );
  const n = toNumber(value);
  if (!Number.isFinite(n)) throw badValue(`${field} must be a finite number`);
  return Math.trunc(n);
}

export function asDocument(value: unknown, field: string): Document | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) {
    throw new MongoCommandError('TypeMismatch', `BSON field '${field}' is the wrong type, expected type 'object'`);
  }
  return value;
}

export function asBoolean(value: unknown): boolean {
  return value === true || (isNumeric(value) && toNumber(value) !== 0);
}
