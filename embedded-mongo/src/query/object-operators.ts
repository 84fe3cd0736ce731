import { DBRef, EJSON, type Document } from 'bson';
import { evalExpr } from 'mingo/core';
import type { Options } from 'mingo/types';
import { MongoCommandError } from '../errors';
import { dbRefDocument, getField, hasField, isPlainObject, setField, typeName } from '../storage/values';

/**
 * `$mergeObjects` and `$arrayToObject`, which build a document from field names found in the data.
 * mingo's assign those names as JavaScript properties, so an own `__proto__` field (an ordinary
 * field to MongoDB, and one BSON decodes as an own key) replaced the new object's prototype and
 * vanished from the result. Here every name is written with `setField`, as everywhere else a
 * client's field name is written, so it stays a field and no prototype is ever touched. Both also
 * follow MongoDB where mingo did not: `$mergeObjects` of one expression (`{ $mergeObjects: '$a' }`)
 * and as a `$group` accumulator merges the expression's values (mingo's accumulator merged the
 * grouped documents themselves), non-documents are refused, and `$arrayToObject` takes a pair's
 * value as it is (mingo flattened `['k', [1, 2]]` into `k: 1`) and wants string keys.
 */

/** A document's fields as `[name, value]`, a DBRef's as stored (`$ref`, `$id`…). */
function fieldsOf(value: Record<string, unknown>): [string, unknown][] {
  const doc = value instanceof DBRef ? dbRefDocument(value) : value;
  return Object.keys(doc).map((name) => [name, getField(doc, name)]);
}

function display(value: unknown): string {
  try {
    return EJSON.stringify(value as Document, { relaxed: true });
  } catch {
    return String(value);
  }
}

/** Merges documents left to right (a later value wins, in the place the name first took); null and missing add nothing. */
function merge(values: unknown[]): Document {
  const out: Document = {};
  for (const value of values) {
    if (value === null || value === undefined) continue;
    if (!isPlainObject(value) && !(value instanceof DBRef)) {
      throw new MongoCommandError(
        'Location40400',
        `$mergeObjects requires object inputs, but input ${display(value)} is of type ${typeName(value)}`,
      );
    }
    for (const [name, field] of fieldsOf(value as Record<string, unknown>)) {
      if (field !== undefined) setField(out, name, field);
    }
  }
  return out;
}

/** `{ $mergeObjects: [a, b, …] }` or `{ $mergeObjects: a }`. */
export function mergeObjectsExpression(obj: unknown, expr: unknown, options: Options): Document {
  const value = evalExpr(obj, expr, options);
  return merge(Array.isArray(expr) ? (value as unknown[]) : [value]);
}

/** `$mergeObjects` in `$group`: `values` are each grouped document's value of the expression. */
export function mergeObjectsAccumulator(values: unknown[]): Document {
  return merge(values);
}

function pairKey(key: unknown, code: 'Location40395' | 'Location40394', what: string): string {
  if (typeof key !== 'string') {
    throw new MongoCommandError(
      code,
      `$arrayToObject requires ${what}, where the key must be of type string. Found key type: ${typeName(key)}`,
    );
  }
  if (key.includes('\0')) {
    throw new MongoCommandError(
      code === 'Location40395' ? 'Location4940400' : 'Location4940401',
      'Key field cannot contain an embedded null byte',
    );
  }
  return key;
}

/**
 * `{ $arrayToObject: x }` (or `[x]`): x is `[[k, v], …]` or `[{ k, v }, …]`, one form throughout,
 * as the first element decides; a repeated key keeps its first place and takes the last value.
 */
export function arrayToObjectExpression(obj: unknown, expr: unknown, options: Options): Document | null {
  const evaluated = evalExpr(obj, expr, options);
  if (Array.isArray(expr) && expr.length !== 1) {
    throw new MongoCommandError(
      'Location16020',
      `Expression $arrayToObject takes exactly 1 arguments. ${expr.length} were passed in.`,
    );
  }
  const input = Array.isArray(expr) ? (evaluated as unknown[])[0] : evaluated;
  if (input === null || input === undefined) return null;
  if (!Array.isArray(input)) {
    throw new MongoCommandError('Location40386', `$arrayToObject requires an array input, found: ${typeName(input)}`);
  }
  const out: Document = {};
  if (input.length === 0) return out;
  const pairs = Array.isArray(input[0]);
  if (!pairs && !isPlainObject(input[0])) {
    throw new MongoCommandError(
      'Location40398',
      `Unrecognised input type format for $arrayToObject: ${typeName(input[0])}`,
    );
  }
  for (const item of input) {
    if (pairs) {
      if (!Array.isArray(item)) {
        throw new MongoCommandError(
          'Location40396',
          `$arrayToObject requires a consistent input format. Elements must all be arrays or all be objects. Array was detected, now found: ${typeName(item)}`,
        );
      }
      if (item.length !== 2) {
        throw new MongoCommandError(
          'Location40397',
          `$arrayToObject requires an array of size 2 arrays,found array of size: ${item.length}`,
        );
      }
      setField(out, pairKey(item[0], 'Location40395', 'an array of key-value pairs'), item[1]);
      continue;
    }
    if (!isPlainObject(item)) {
      throw new MongoCommandError(
        'Location40391',
        `$arrayToObject requires a consistent input format. Elements must all be arrays or all be objects. Object was detected, now found: ${typeName(item)}`,
      );
    }
    const size = Object.keys(item).length;
    if (size !== 2) {
      throw new MongoCommandError(
        'Location40392',
        `$arrayToObject requires an object keys of 'k' and 'v'. Found incorrect number of keys:${size}`,
      );
    }
    if (!hasField(item, 'k') || !hasField(item, 'v')) {
      throw new MongoCommandError(
        'Location40393',
        `$arrayToObject requires an object with keys 'k' and 'v'. Missing either or both keys from: ${display(item)}`,
      );
    }
    setField(out, pairKey(item['k'], 'Location40394', "an object with keys 'k' and 'v'"), item['v']);
  }
  return out;
}
