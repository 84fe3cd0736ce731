import { badValue, MongoCommandError } from '../errors';
import { isNumeric, isPlainObject, toNumber } from '../storage/values';

export interface WriteConcern {
  /** `j: true` (or `fsync: true`): the journal is fsynced before the reply. */
  journal: boolean;
}

const FIELDS = new Set(['w', 'j', 'wtimeout', 'fsync', 'provenance', 'getLastError']);

function flag(value: unknown): boolean {
  return value === true || (isNumeric(value) && toNumber(value) !== 0);
}

/**
 * A command's `writeConcern`, checked as a standalone mongod checks it: `w` 0, 1 or `'majority'`
 * (one node is a majority), anything asking for other members refused; `j: true` honoured with an
 * fsync when there is a journal, refused without one (as MongoDB refuses it on an in-memory
 * storage engine).
 */
export function parseWriteConcern(value: unknown, journaled: boolean): WriteConcern {
  if (value === undefined || value === null) return { journal: false };
  if (!isPlainObject(value)) {
    throw new MongoCommandError('TypeMismatch', "BSON field 'writeConcern' is the wrong type, expected type 'object'");
  }
  for (const field of Object.keys(value)) {
    if (!FIELDS.has(field)) throw new MongoCommandError('FailedToParse', `unrecognized write concern field: ${field}`);
  }
  const w = value['w'];
  if (isNumeric(w)) {
    const n = toNumber(w);
    if (!Number.isInteger(n) || n < 0 || n > 50) {
      throw new MongoCommandError(
        'FailedToParse',
        `w has to be a non-negative number and not greater than 50; found: ${String(n)}`,
      );
    }
    if (n > 1) throw badValue("cannot use 'w' > 1 when a host is not replicated");
  } else if (typeof w === 'string' || isPlainObject(w)) {
    if (w !== 'majority') {
      throw badValue(
        `cannot use non-majority 'w' mode ${JSON.stringify(w)} when a host is not a member of a replica set`,
      );
    }
  } else if (w !== undefined && w !== null) {
    throw new MongoCommandError('FailedToParse', 'w has to be a number, a string or an object');
  }
  const j = flag(value['j']);
  const fsync = flag(value['fsync']);
  if (j && fsync) throw new MongoCommandError('FailedToParse', 'fsync and j options cannot be used together');
  if ((j || fsync) && !journaled) {
    throw badValue("cannot use 'j' option when a host does not have journaling enabled");
  }
  return { journal: j || fsync };
}
