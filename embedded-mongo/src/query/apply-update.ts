import { Long, Timestamp, type Document } from 'bson';
import { badValue, MongoCommandError, notSupported } from '../errors';
import {
  cloneValue,
  compareValues,
  getField,
  setField,
  isNumeric,
  isPlainObject,
  renderValue,
  toNumber,
  typeName,
  typeRank,
  valueKey,
} from '../storage/values';
import { asDouble, integerOfType, looksLikeInt32, numericType, widestType, type NumericType } from '../storage/numbers';
import { compileFilter, type Matcher } from './matcher';
import { getPath } from './paths';
import { compareSortKeys, sortKey, type SortSpec } from './sort';
import type { Modification, ParsedUpdate, PushSpec, UpdateOptions, UpdateOutcome } from './update';

/**
 * Applying a parsed update (see `update.ts`) to a copy of a document, with MongoDB's rules for
 * paths (created on the way, padded arrays, no way through a scalar), positional operators and
 * each operator's type errors.
 */

/** Applies a parsed update to a copy of `doc`; the stored document is never touched. */
export function applyUpdate(doc: Document, update: ParsedUpdate, options: UpdateOptions = {}): UpdateOutcome {
  if (update.kind === 'replacement') return replaceDocument(doc, update.doc, options.inserting === true);
  const next = cloneValue(doc);
  const ctx: ApplyContext = {
    doc: next,
    filter: options.filter ?? {},
    arrayFilters: update.arrayFilters,
    inserting: options.inserting === true,
    now: new Date(),
    original: doc,
    positions: new Map(),
  };
  let modified = false;
  for (const mod of update.mods) {
    if (mod.op === '$setOnInsert' && !ctx.inserting) continue;
    const top = mod.parts[0] as string;
    if (top.startsWith('$') && !ctx.inserting) {
      // MongoDB validates an upsert's new document as an insert, and an update of an existing one as an update.
      throw new MongoCommandError(
        'DollarPrefixedFieldName',
        `The dollar ($) prefixed field '${top}' in '${mod.path}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
      );
    }
    for (const parts of expandPositional(next, mod, ctx)) {
      if (applyModification(next, mod, parts, ctx)) modified = true;
    }
  }
  checkIdUnchanged(doc, next, options.inserting === true);
  return { doc: next, modified };
}

function replaceDocument(doc: Document, replacement: Document, inserting: boolean): UpdateOutcome {
  const id = doc['_id'];
  const newId = replacement['_id'];
  if (id !== undefined && newId !== undefined && !sameValue(id, newId)) {
    throw new MongoCommandError(
      'ImmutableField',
      `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${renderValue(newId)}`,
    );
  }
  const { _id: _omitted, ...rest } = replacement;
  const finalId = id ?? newId;
  const next: Document = finalId === undefined ? { ...rest } : { _id: finalId, ...rest };
  return { doc: next, modified: inserting || valueKey(next) !== valueKey(doc) };
}

function checkIdUnchanged(before: Document, after: Document, inserting: boolean): void {
  const id = before['_id'];
  if (id === undefined) return;
  if (!sameValue(id, after['_id'])) {
    throw new MongoCommandError(
      'ImmutableField',
      inserting
        ? `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${renderValue(after['_id'])}`
        : "Performing an update on the path '_id' would modify the immutable field '_id'",
    );
  }
}

/** Equal and of the same type (so `$set` of an equal value is a no-op, as in MongoDB). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return typeRank(a) === typeRank(b) && compareValues(a, b) === 0 && typeName(a) === typeName(b);
}

interface ApplyContext {
  doc: Document;
  filter: Document;
  arrayFilters: Map<string, Matcher>;
  inserting: boolean;
  now: Date;
  /** The document as the query matched it: `$` names the position matched there, for every field. */
  original: Document;
  /** `$` positions worked out so far, by array path. */
  positions: Map<string, number>;
}

/** The concrete paths a modification touches, with `$`, `$[]` and `$[id]` resolved against the document. */
function expandPositional(doc: Document, mod: Modification, ctx: ApplyContext): string[][] {
  if (!mod.parts.some((p) => p.startsWith('$'))) return [mod.parts];
  const out: string[][] = [];
  const walk = (value: unknown, i: number, acc: string[]) => {
    if (i === mod.parts.length) {
      out.push(acc);
      return;
    }
    const part = mod.parts[i] as string;
    if (part === '$') {
      if (!Array.isArray(value)) throw noPositionalMatch();
      const arrayPath = acc.join('.');
      let index = ctx.positions.get(arrayPath);
      if (index === undefined) {
        // MongoDB takes the position from the query's match, once: later fields of the same update
        // (which may have changed the matched element) do not move it.
        const matched = getPath(ctx.original, arrayPath);
        index = positionalIndex(ctx.filter, arrayPath, Array.isArray(matched) ? matched : value);
        ctx.positions.set(arrayPath, index);
      }
      walk(value[index], i + 1, [...acc, String(index)]);
      return;
    }
    if (part.startsWith('$[')) {
      if (!Array.isArray(value)) {
        throw badValue(`The path '${acc.join('.')}' must exist in the document in order to apply array updates.`);
      }
      const id = part.slice(2, -1);
      const filter = id === '' ? undefined : ctx.arrayFilters.get(id);
      value.forEach((element, index) => {
        if (!filter || filter.test({ [id]: element })) walk(element, i + 1, [...acc, String(index)]);
      });
      return;
    }
    const next = isPlainObject(value)
      ? getField(value, part)
      : Array.isArray(value) && /^\d+$/.test(part)
        ? (value[Number(part)] as unknown)
        : undefined;
    walk(next, i + 1, [...acc, part]);
  };
  walk(doc, 0, []);
  return out;
}

function noPositionalMatch(): MongoCommandError {
  return badValue('The positional operator did not find the match needed from the query.');
}

/**
 * The array position the query matched, for `$`: the first element satisfying every condition the
 * filter puts on this array (directly, through a sub-path, or with `$elemMatch`).
 */
function positionalIndex(filter: Document, arrayPath: string, array: unknown[]): number {
  const conditions: Document[] = [];
  const collect = (clause: Document) => {
    for (const [key, condition] of Object.entries(clause)) {
      if (key === '$and' && Array.isArray(condition)) for (const sub of condition) collect(sub as Document);
      else if (key === arrayPath) {
        const elemMatch = isPlainObject(condition) && Object.keys(condition).length === 1 && '$elemMatch' in condition;
        conditions.push(elemMatch ? { whole: condition } : { e: condition });
      } else if (key.startsWith(`${arrayPath}.`)) {
        conditions.push({ [`e.${key.slice(arrayPath.length + 1)}`]: condition });
      }
    }
  };
  collect(filter);
  if (conditions.length === 0) throw noPositionalMatch();
  const matchers = conditions.map((c) => {
    if ('whole' in c) {
      const m = compileFilter({ e: c['whole'] });
      return (element: unknown) => m.test({ e: [element] });
    }
    const m = compileFilter(c);
    return (element: unknown) => m.test({ e: element });
  });
  let index = array.findIndex((element) => matchers.every((m) => m(element)));
  if (index < 0)
    index = array.findIndex((element) => (matchers[matchers.length - 1] as (e: unknown) => boolean)(element));
  if (index < 0) throw noPositionalMatch();
  return index;
}

// ---------------------------------------------------------------------------------------------

type Container = Record<string, unknown> | unknown[];

interface Slot {
  parent: Container;
  key: string;
}

function isIndexPart(part: string): boolean {
  return /^\d+$/.test(part);
}

function pathNotViable(part: string, at: string, value: unknown): MongoCommandError {
  return new MongoCommandError(
    'PathNotViable',
    `Cannot create field '${part}' in element {${at}: ${renderValue(value)}}`,
  );
}

/**
 * The slot a path names, creating the objects on the way when `create` is set. Returns undefined
 * when the path cannot exist and nothing is to be created (an `$unset` of a path through a scalar).
 */
export function locate(doc: Document, parts: string[], create: boolean): Slot | undefined {
  let current: Container = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i] as string;
    let next: unknown;
    if (Array.isArray(current)) {
      if (!isIndexPart(part)) {
        if (!create) return undefined;
        throw pathNotViable(part, parts[i - 1] ?? '', current);
      }
      next = current[Number(part)];
    } else {
      next = getField(current, part);
    }
    if (next === undefined || next === null) {
      if (!create) return undefined;
      if (next === null) throw pathNotViable(parts[i + 1] as string, part, null);
      next = {};
      setSlot({ parent: current, key: part }, next);
    } else if (!isPlainObject(next) && !Array.isArray(next)) {
      if (!create) return undefined;
      throw pathNotViable(parts[i + 1] as string, part, next);
    }
    current = next as Container;
  }
  const key = parts[parts.length - 1] as string;
  if (Array.isArray(current) && !isIndexPart(key)) {
    if (!create) return undefined;
    throw pathNotViable(key, parts[parts.length - 2] ?? '', current);
  }
  return { parent: current, key };
}

function getSlot(slot: Slot): unknown {
  return Array.isArray(slot.parent) ? slot.parent[Number(slot.key)] : getField(slot.parent, slot.key);
}

export function setSlot(slot: Slot, value: unknown): void {
  if (Array.isArray(slot.parent)) {
    const index = Number(slot.key);
    // MongoDB pads an array with nulls up to a new position.
    while (slot.parent.length < index) slot.parent.push(null);
    slot.parent[index] = value;
  } else {
    setField(slot.parent, slot.key, value);
  }
}

/** Sets a value; true if that changed the document. */
function assign(doc: Document, parts: string[], value: unknown): boolean {
  const slot = locate(doc, parts, true) as Slot;
  const current = getSlot(slot);
  if (current !== undefined && sameValue(current, value)) return false;
  setSlot(slot, cloneValue(value));
  return true;
}

function describeDoc(doc: Document): string {
  return `{_id: ${renderValue(doc['_id'])}}`;
}

function applyModification(doc: Document, mod: Modification, parts: string[], ctx: ApplyContext): boolean {
  const path = parts.join('.');
  switch (mod.op) {
    case '$set':
    case '$setOnInsert':
      return assign(doc, parts, mod.value);
    case '$unset': {
      const slot = locate(doc, parts, false);
      if (!slot || getSlot(slot) === undefined) return false;
      if (Array.isArray(slot.parent)) slot.parent[Number(slot.key)] = null;
      else delete slot.parent[slot.key];
      return true;
    }
    case '$inc':
    case '$mul': {
      const slot = locate(doc, parts, true) as Slot;
      const current = getSlot(slot);
      if (current === undefined) {
        setSlot(slot, mod.op === '$inc' ? mod.value : multiply(0, mod.value));
        return true;
      }
      if (!isNumeric(current)) {
        throw new MongoCommandError(
          'TypeMismatch',
          `Cannot apply ${mod.op} to a value of non-numeric type. ${describeDoc(ctx.doc)} has the field '${parts[parts.length - 1]}' of non-numeric type ${typeName(current)}`,
        );
      }
      const result = mod.op === '$inc' ? add(current, mod.value) : multiply(current, mod.value);
      if (sameValue(result, current)) return false;
      setSlot(slot, result);
      return true;
    }
    case '$min':
    case '$max': {
      const slot = locate(doc, parts, true) as Slot;
      const current = getSlot(slot);
      const c = current === undefined ? 0 : compareValues(mod.value, current);
      if (current !== undefined && (mod.op === '$min' ? c >= 0 : c <= 0)) return false;
      setSlot(slot, cloneValue(mod.value));
      return true;
    }
    case '$currentDate': {
      const type = isPlainObject(mod.value) ? mod.value['$type'] : 'date';
      const value = type === 'timestamp' ? currentTimestamp(ctx.now) : new Date(ctx.now.getTime());
      return assign(doc, parts, value);
    }
    case '$rename':
      return rename(doc, parts, mod.value as string);
    case '$push':
    case '$addToSet':
      return pushTo(doc, parts, mod, ctx);
    case '$pop':
    case '$pull':
    case '$pullAll':
      return removeFrom(doc, parts, path, mod, ctx);
  }
}

function add(a: unknown, b: unknown): unknown {
  return arithmetic(a, b, false);
}

function multiply(a: unknown, b: unknown): unknown {
  return arithmetic(a, b, true);
}

/**
 * `$inc`/`$mul` with MongoDB's type promotion: the result has the wider operand's type (int32 <
 * int64 < double); an int32 result that overflows becomes an int64, an int64 one that overflows
 * is refused (as MongoDB refuses it), integers are exact beyond 2^53. Decimal128 is refused.
 */
function arithmetic(a: unknown, b: unknown, times: boolean): unknown {
  if (typeof a === 'number' && typeof b === 'number') {
    const result = times ? a * b : a + b;
    if (!looksLikeInt32(a) || !looksLikeInt32(b)) return asDouble(result);
    if (looksLikeInt32(result)) return result;
    if (result === 0) return 0; // An int32 product is never -0.
    return Long.fromBigInt(times ? BigInt(a) * BigInt(b) : BigInt(a) + BigInt(b));
  }
  const types = [numericType(a), numericType(b)];
  if (types.includes('decimal')) throw notSupported('$inc and $mul on Decimal128 values');
  const type = widestType(types as NumericType[]);
  if (type === 'double') {
    // As in MongoDB, an int64 operand is converted to a double.
    return asDouble(times ? toNumber(a) * toNumber(b) : toNumber(a) + toNumber(b));
  }
  const big = (v: unknown): bigint => (v instanceof Long ? v.toBigInt() : BigInt(toNumber(v)));
  const result = integerOfType(times ? big(a) * big(b) : big(a) + big(b), type as 'int' | 'long');
  if (result === undefined) throw badValue('integer overflow');
  return result;
}

let lastTimestamp = { t: 0, i: 0 };

function currentTimestamp(now: Date): Timestamp {
  const t = Math.floor(now.getTime() / 1000);
  lastTimestamp = t === lastTimestamp.t ? { t, i: lastTimestamp.i + 1 } : { t, i: 1 };
  return new Timestamp(lastTimestamp);
}

function rename(doc: Document, from: string[], to: string): boolean {
  const source = locateNoArrays(doc, from, 'source');
  if (!source || getSlot(source) === undefined) return false;
  const value = getSlot(source);
  const targetParts = to.split('.');
  locateNoArrays(doc, targetParts, 'destination');
  delete (source.parent as Record<string, unknown>)[source.key];
  const target = locate(doc, targetParts, true) as Slot;
  setSlot(target, value);
  return true;
}

/** `$rename` does not work through arrays. */
function locateNoArrays(doc: Document, parts: string[], role: string): Slot | undefined {
  let current: unknown = doc;
  for (let i = 0; i < parts.length; i++) {
    if (Array.isArray(current))
      throw badValue(
        `The ${role} field cannot be an array element, '${parts.join('.')}' in doc with ${describeDoc(doc)} has an array field called '${parts[i - 1] ?? ''}'`,
      );
    if (!isPlainObject(current)) return undefined;
    if (i === parts.length - 1) return { parent: current, key: parts[i] as string };
    current = getField(current, parts[i] as string);
    if (current === undefined) return undefined;
  }
  return undefined;
}

function arrayAt(
  doc: Document,
  parts: string[],
  create: boolean,
  op: string,
  ctx: ApplyContext,
): { slot: Slot; array: unknown[] | undefined } | undefined {
  const slot = locate(doc, parts, create);
  if (!slot) return undefined;
  const current = getSlot(slot);
  if (current === undefined) return { slot, array: undefined };
  if (!Array.isArray(current)) {
    if (op === '$pop') {
      throw new MongoCommandError(
        'TypeMismatch',
        `Path '${parts.join('.')}' contains an element of non-array type '${typeName(current)}'`,
      );
    }
    if (op === '$pull' || op === '$pullAll') throw badValue(`Cannot apply ${op} to a non-array value`);
    throw badValue(
      `The field '${parts.join('.')}' must be an array but is of type ${typeName(current)} in document ${describeDoc(ctx.doc)}`,
    );
  }
  return { slot, array: current };
}

function pushTo(doc: Document, parts: string[], mod: Modification, ctx: ApplyContext): boolean {
  const found = arrayAt(doc, parts, true, mod.op, ctx) as { slot: Slot; array: unknown[] | undefined };
  const spec = mod.push as PushSpec;
  const array = found.array ?? [];
  const created = found.array === undefined;
  let changed = false;
  if (mod.op === '$addToSet') {
    for (const item of spec.each) {
      if (array.some((existing) => sameValue(existing, item))) continue;
      array.push(cloneValue(item));
      changed = true;
    }
  } else {
    const items = spec.each.map(cloneValue);
    let at = spec.position ?? array.length;
    if (at < 0) at = Math.max(0, array.length + at);
    array.splice(Math.min(at, array.length), 0, ...items);
    changed = items.length > 0;
    if (spec.sort !== undefined) changed = sortArray(array, spec.sort) || changed;
    if (spec.slice !== undefined) {
      const before = array.length;
      const kept = spec.slice >= 0 ? array.slice(0, spec.slice) : array.slice(Math.max(0, array.length + spec.slice));
      array.splice(0, array.length, ...kept);
      changed = changed || array.length !== before;
    }
  }
  if (created) setSlot(found.slot, array);
  return changed || created;
}

function sortArray(array: unknown[], sort: SortSpec | 1 | -1): boolean {
  const before = array.slice();
  if (sort === 1 || sort === -1) array.sort((a, b) => compareValues(a, b) * sort);
  else {
    const keyed = array.map((item) => ({ item, key: sortKey(isPlainObject(item) ? item : {}, sort) }));
    keyed.sort((a, b) => compareSortKeys(a.key, b.key, sort));
    array.splice(0, array.length, ...keyed.map((k) => k.item));
  }
  return before.some((item, i) => item !== array[i]);
}

function removeFrom(doc: Document, parts: string[], _path: string, mod: Modification, ctx: ApplyContext): boolean {
  const found = arrayAt(doc, parts, false, mod.op, ctx);
  if (!found?.array) return false;
  const array = found.array;
  if (mod.op === '$pop') {
    if (array.length === 0) return false;
    if (mod.value === 1) array.pop();
    else array.shift();
    return true;
  }
  const remove =
    mod.op === '$pull'
      ? (mod.pull as (e: unknown) => boolean)
      : (element: unknown) => (mod.value as unknown[]).some((v) => sameValue(element, v));
  const kept = array.filter((element) => !remove(element));
  if (kept.length === array.length) return false;
  array.splice(0, array.length, ...kept);
  return true;
}
