import type { Document } from 'bson';
import { badValue } from '../errors';
import { getField, isPlainObject } from '../storage/values';
import { compileFilter, type Matcher } from './matcher';

const compiled = new WeakMap<object, Matcher>();

/**
 * The `$elemMatch` projection: the first element of a top-level array that matches, or no field
 * at all. It replaces mingo's, which compiles its criteria as a top-level query and so refuses
 * the operator form (`{ $elemMatch: { $gte: 5 } }`); here the criteria are matched exactly as the
 * query operator `$elemMatch` matches them.
 */
export function elemMatchProjection(obj: unknown, expr: unknown, field: string): unknown {
  if (field.includes('.')) throw badValue('Cannot use $elemMatch projection on a nested field.');
  if (!isPlainObject(expr)) throw badValue('elemMatch: Invalid argument, object required.');
  let matcher = compiled.get(expr);
  if (!matcher) {
    matcher = compileFilter({ e: { $elemMatch: expr } }, '$elemMatch projection');
    compiled.set(expr, matcher);
  }
  const array = isPlainObject(obj) ? getField(obj, field) : undefined;
  if (!Array.isArray(array)) return undefined;
  const test = matcher;
  const found = array.find((element) => test.test({ e: [element] } as Document));
  return found === undefined ? undefined : [found];
}
