import { notSupported } from '../errors';
import { isPlainObject } from '../storage/values';

/**
 * Field names mingo cannot be trusted with. Our own code reads and writes fields by name only
 * through `getField`/`setField` (storage/values.ts), so `__proto__`, `constructor`, `toString`…
 * are ordinary field names in queries, updates and find's inclusions. mingo, which runs the
 * computing aggregation stages and projections, writes computed fields along a path by plain
 * property access: a path through `constructor` would find `Object` there, and a `__proto__`
 * key in an object expression replaces the result's prototype. Those forms are refused with an
 * error naming the field rather than answered wrongly.
 */
const PROTOTYPE_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

export function isPrototypeName(name: string): boolean {
  return PROTOTYPE_NAMES.has(name);
}

function refuse(name: string, where: string): never {
  throw notSupported(
    `the field name '${name}' in ${where} (it names a JavaScript Object.prototype property, which embedded-mongo's aggregation engine cannot write as a field)`,
  );
}

/** Refuses a field path (`a.constructor.b`) with a component named like an Object.prototype property. */
export function checkComputedPath(path: string, where: string): void {
  for (const part of path.split('.')) if (PROTOTYPE_NAMES.has(part)) refuse(part, where);
}

/**
 * Refuses such names in the field paths of a `$project`/`$addFields`/`$set`/`$unset` spec, at
 * every level of nesting (`{ a: { constructor: 1 } }` is the path `a.constructor`).
 */
export function checkStageFieldNames(spec: unknown, where: string): void {
  if (typeof spec === 'string') return checkComputedPath(spec, where);
  if (Array.isArray(spec)) {
    for (const item of spec) if (typeof item === 'string') checkComputedPath(item, where);
    return;
  }
  if (!isPlainObject(spec)) return;
  for (const [key, value] of Object.entries(spec)) {
    if (key.startsWith('$')) continue;
    checkComputedPath(key, where);
    if (isPlainObject(value)) checkStageFieldNames(value, where);
  }
}

/** Refuses `__proto__` as a field name in an object expression (mingo assigns those keys). */
export function checkExpressionKey(key: string): void {
  if (key === '__proto__') refuse(key, 'an aggregation expression');
}
