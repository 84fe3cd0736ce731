import type { Document } from 'bson';
import { badValue, MongoCommandError, notSupported } from '../errors';
import { hasField, isNumeric, isPlainObject, renderValue, typeName } from '../storage/values';
import { compileFilter, type Matcher } from './matcher';
import { isRegex, toRegExp } from './regex';
import { parseSort, type SortSpec } from './sort';
import { sameValue } from './apply-update';

/**
 * Parsing and validating an update (operators or a replacement), once per statement and before
 * any document is touched; `apply-update.ts` applies it, `upsert.ts` seeds an upsert. MongoDB's
 * update language is implemented here rather than by mingo's updater: mingo silently
 * ignores updates MongoDB rejects (`$inc` on a string, `$push` to a non-array, `$set` through a
 * scalar), leaves holes in arrays, and has no error for a positional operator without a match.
 * Each of those would be a silent wrong answer, so this module follows MongoDB's rules and errors.
 */

export type Operator =
  | '$set'
  | '$setOnInsert'
  | '$unset'
  | '$inc'
  | '$mul'
  | '$min'
  | '$max'
  | '$rename'
  | '$currentDate'
  | '$push'
  | '$addToSet'
  | '$pull'
  | '$pullAll'
  | '$pop';

const OPERATORS = new Set<string>([
  '$set',
  '$setOnInsert',
  '$unset',
  '$inc',
  '$mul',
  '$min',
  '$max',
  '$rename',
  '$currentDate',
  '$push',
  '$addToSet',
  '$pull',
  '$pullAll',
  '$pop',
]);

export interface PushSpec {
  each: unknown[];
  position?: number;
  slice?: number;
  sort?: SortSpec | 1 | -1;
}

export interface Modification {
  op: Operator;
  path: string;
  parts: string[];
  value: unknown;
  push?: PushSpec;
  pull?: (element: unknown) => boolean;
}

export type ParsedUpdate =
  | { kind: 'replacement'; doc: Document }
  | { kind: 'operators'; mods: Modification[]; arrayFilters: Map<string, Matcher> };

export interface UpdateOptions {
  /** The query's filter (validated), for the positional `$` operator. */
  filter?: Document;
  /** An upsert inserting: `$setOnInsert` applies and `_id` may be set. */
  inserting?: boolean;
}

export interface UpdateOutcome {
  doc: Document;
  modified: boolean;
}

function failedToParse(message: string): MongoCommandError {
  return new MongoCommandError('FailedToParse', message);
}

/** Validates an update document once, before any document is touched. */
export function parseUpdate(update: unknown, arrayFilters?: unknown): ParsedUpdate {
  if (Array.isArray(update)) throw notSupported('a pipeline-style update (an update given as an array)');
  if (!isPlainObject(update)) throw failedToParse('Update argument must be either an object or an array');
  const keys = Object.keys(update);
  if (keys.length === 0 || !(keys[0] as string).startsWith('$')) {
    if (arrayFilters !== undefined)
      throw failedToParse('arrayFilters may not be specified for a replacement-style update');
    for (const key of keys) {
      if (key.startsWith('$')) {
        throw new MongoCommandError(
          'DollarPrefixedFieldName',
          `The dollar ($) prefixed field '${key}' in '${key}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
        );
      }
    }
    return { kind: 'replacement', doc: update };
  }
  const mods: Modification[] = [];
  for (const [op, fields] of Object.entries(update)) {
    if (op === '$bit') throw notSupported('the update operator $bit');
    if (!OPERATORS.has(op)) {
      throw failedToParse(
        `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    }
    if (!isPlainObject(fields)) {
      throw failedToParse(
        `Modifiers operate on fields but we found type ${typeName(fields)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${renderValue(fields)}}`,
      );
    }
    for (const [path, value] of Object.entries(fields)) mods.push(parseModification(op as Operator, path, value));
  }
  checkConflicts(mods);
  const filters = parseArrayFilters(arrayFilters, mods);
  // MongoDB applies modifications in field-name order, which is also the order new fields appear in.
  mods.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { kind: 'operators', mods, arrayFilters: filters };
}

function checkPath(path: string): string[] {
  if (path === '') throw new MongoCommandError('EmptyFieldName', 'An empty update path is not valid.');
  const parts = path.split('.');
  let positional = 0;
  for (const part of parts) {
    if (part === '') {
      throw new MongoCommandError(
        'EmptyFieldName',
        `The update path '${path}' contains an empty field name, which is not allowed.`,
      );
    }
    if (part === '$') positional++;
    else if (part.startsWith('$[') && !/^\$\[[a-z][a-zA-Z0-9]*\]$|^\$\[\]$/.test(part)) {
      throw badValue(`The array filter identifier '${part}' in '${path}' is not valid.`);
    }
  }
  if (positional > 1) throw badValue(`Too many positional (i.e. '$') elements found in path '${path}'`);
  // Since MongoDB 5.0 other `$`-prefixed names are field names (`location.$db`); at the top
  // level an update may only create one in a new document (an upsert), see apply-update.ts.
  if (parts[0] === '$' || parts[0]?.startsWith('$['))
    throw badValue(
      `Cannot have array filter identifier (i.e. '$[<id>]') element in the first position in path '${path}'`,
    );
  return parts;
}

function parseModification(op: Operator, path: string, value: unknown): Modification {
  const parts = checkPath(path);
  const mod: Modification = { op, path, parts, value };
  switch (op) {
    case '$inc':
    case '$mul':
      if (!isNumeric(value)) {
        throw new MongoCommandError(
          'TypeMismatch',
          `Cannot ${op === '$inc' ? 'increment' : 'multiply'} with non-numeric argument: {${path}: ${renderValue(value)}}`,
        );
      }
      break;
    case '$rename':
      if (typeof value !== 'string')
        throw badValue(`The 'to' field for $rename must be a string: ${path}: ${renderValue(value)}`);
      if (value === path) throw badValue(`The source and target field for $rename must differ: ${path}: "${value}"`);
      if (parts.some((p) => p.startsWith('$')) || checkPath(value).some((p) => p.startsWith('$'))) {
        throw badValue(`The source and target field for $rename must not contain positional operators: ${path}`);
      }
      break;
    case '$currentDate': {
      const type = isPlainObject(value) ? value['$type'] : undefined;
      if (value !== true && value !== false && type !== 'date' && type !== 'timestamp') {
        throw badValue(
          `The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}`,
        );
      }
      break;
    }
    case '$push':
    case '$addToSet':
      mod.push = parsePush(op, value);
      break;
    case '$pop':
      if (value !== 1 && value !== -1) throw failedToParse(`$pop expects 1 or -1, found: ${renderValue(value)}`);
      break;
    case '$pullAll':
      if (!Array.isArray(value))
        throw badValue(`$pullAll requires an array argument but was given a ${typeName(value)}`);
      break;
    case '$pull':
      mod.pull = pullTest(value);
      break;
    default:
      break;
  }
  return mod;
}

function parsePush(op: '$push' | '$addToSet', value: unknown): PushSpec {
  if (!isPlainObject(value) || !hasField(value, '$each')) return { each: [value] };
  const each = value['$each'];
  if (!Array.isArray(each))
    throw badValue(`The argument to $each in ${op} must be an array but it was of type: ${typeName(each)}`);
  const spec: PushSpec = { each };
  for (const [clause, arg] of Object.entries(value)) {
    if (clause === '$each') continue;
    if (op === '$addToSet') throw badValue(`Found unexpected fields after $each in $addToSet: ${renderValue(value)}`);
    if (clause === '$slice' || clause === '$position') {
      if (typeof arg !== 'number' || !Number.isInteger(arg))
        throw badValue(`The value for ${clause} must be an integer value but was given type: ${typeName(arg)}`);
      if (clause === '$slice') spec.slice = arg;
      else spec.position = arg;
    } else if (clause === '$sort') {
      if (arg === 1 || arg === -1) spec.sort = arg;
      else if (isPlainObject(arg)) {
        const sort = parseSort(arg);
        if (!sort) throw badValue('The $sort pattern is empty when it should be a set of fields.');
        spec.sort = sort;
      } else
        throw badValue(
          'The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields',
        );
    } else {
      throw badValue(`Unrecognized clause in $push: ${clause}`);
    }
  }
  return spec;
}

/** What `$pull` removes: elements equal to a value, matching a regex, or matching a condition. */
function pullTest(condition: unknown): (element: unknown) => boolean {
  if (isRegex(condition)) {
    const re = toRegExp(condition);
    return (element) => typeof element === 'string' && re.test(element);
  }
  if (!isPlainObject(condition)) return (element) => sameValue(element, condition);
  const keys = Object.keys(condition);
  const operatorForm = keys.length > 0 && keys.every((k) => k.startsWith('$') && !['$and', '$or', '$nor'].includes(k));
  if (operatorForm) {
    const matcher = compileFilter({ v: condition }, '$pull');
    return (element) => matcher.test({ v: element });
  }
  const matcher = compileFilter(condition, '$pull');
  return (element) => isPlainObject(element) && matcher.test(element);
}

function checkConflicts(mods: Modification[]): void {
  const paths: string[] = [];
  for (const mod of mods) {
    paths.push(mod.path);
    if (mod.op === '$rename') paths.push(mod.value as string);
  }
  const sorted = [...paths].sort();
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1] as string;
    const b = sorted[i] as string;
    if (a === b || b.startsWith(`${a}.`)) {
      throw new MongoCommandError(
        'ConflictingUpdateOperators',
        `Updating the path '${b}' would create a conflict at '${a}'`,
      );
    }
  }
}

function parseArrayFilters(raw: unknown, mods: Modification[]): Map<string, Matcher> {
  const filters = new Map<string, Matcher>();
  if (raw !== undefined && raw !== null) {
    if (!Array.isArray(raw)) throw failedToParse('arrayFilters must be an array');
    for (const filter of raw) {
      if (!isPlainObject(filter)) throw failedToParse('Each array filter must be an object');
      const ids = new Set(
        Object.keys(filter).flatMap((k) => (k.startsWith('$') ? topLevelIds(filter[k]) : [k.split('.')[0] as string])),
      );
      if (ids.size !== 1) {
        throw failedToParse(
          ids.size === 0
            ? 'Cannot use an expression without a top-level field name in arrayFilters'
            : `Error parsing array filter :: caused by :: Expected a single top-level field name, found '${[...ids].join("' and '")}'`,
        );
      }
      const id = [...ids][0] as string;
      if (!/^[a-z][a-zA-Z0-9]*$/.test(id)) {
        throw badValue(
          `Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '${id}'`,
        );
      }
      if (filters.has(id)) throw failedToParse(`Found multiple array filters with the same top-level field name ${id}`);
      filters.set(id, compileFilter(filter, 'arrayFilters'));
    }
  }
  const used = new Set<string>();
  for (const mod of mods) {
    for (const part of mod.parts) {
      const match = /^\$\[([a-zA-Z0-9]+)\]$/.exec(part);
      if (!match) continue;
      const id = match[1] as string;
      if (!filters.has(id)) throw badValue(`No array filter found for identifier '${id}' in path '${mod.path}'`);
      used.add(id);
    }
  }
  for (const id of filters.keys()) {
    if (!used.has(id))
      throw failedToParse(
        `The array filter for identifier '${id}' was not used in the update ${renderValue(Object.fromEntries(mods.map((m) => [m.op, { [m.path]: m.value }])))}`,
      );
  }
  return filters;
}

function topLevelIds(clauses: unknown): string[] {
  if (!Array.isArray(clauses)) return [];
  return clauses.flatMap((clause) =>
    isPlainObject(clause)
      ? Object.keys(clause).flatMap((k) => (k.startsWith('$') ? topLevelIds(clause[k]) : [k.split('.')[0] as string]))
      : [],
  );
}
