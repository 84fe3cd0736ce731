import { BSONSymbol, DBRef, Decimal128, MaxKey, MinKey, type Document } from 'bson';
import type { Options } from 'mingo/types';
import {
  compareNumbers,
  compareValues,
  DBREF_FIELDS,
  dbRefDocument,
  getField,
  isPlainObject,
  Rank,
  toNumber,
  typeRank,
  valueKey,
} from '../storage/values';
import { numericType } from '../storage/numbers';
import { compilePrepared, prepareFilter } from './matcher';
import { MISSING, pathValues } from './paths';

/**
 * MongoDB's leaf query operators over BSON values, plugged into mingo in place of its own (see
 * `mingo-context.ts`). A path may reach several values (through arrays) or none (MISSING); a
 * predicate matches when it holds for any of them, or for any element of one that is an array.
 * Operands have been validated by `matcher.ts` before mingo compiles a filter.
 */
type Predicate = (doc: Record<string, unknown>) => boolean;
export type LeafOperator = (selector: string, operand: unknown, options: Options) => Predicate;
type Test = (value: unknown) => boolean;

/** Whether `test` holds for a value the path reaches, or (with `elements`) for an element of one. */
function anyValue(doc: unknown, path: string, test: Test, elements = true): boolean {
  if (path.indexOf('.') < 0 && isPlainObject(doc)) {
    const value = getField(doc, path);
    if (value === undefined) return test(MISSING);
    return test(value) || (elements && Array.isArray(value) && value.some(test));
  }
  for (const value of pathValues(doc, path)) {
    if (test(value)) return true;
    if (elements && Array.isArray(value) && value.some(test)) return true;
  }
  return false;
}

function isNullish(value: unknown): boolean {
  return value === MISSING || value === null || value === undefined;
}

/** Equality as MongoDB's `$eq`: numbers across types, null matching missing. */
export function equalsTest(operand: unknown): Test {
  if (operand === null || operand === undefined) return isNullish;
  if (typeof operand === 'string') {
    return (v) => v === operand || (v instanceof BSONSymbol && v.valueOf() === operand);
  }
  if (typeof operand === 'number') {
    return (v) => v === operand || (typeRank(v) === Rank.Number && compareNumbers(v, operand) === 0);
  }
  const rank = typeRank(operand);
  return (v) => v !== MISSING && typeRank(v) === rank && compareValues(v, operand) === 0;
}

function regexTest(re: RegExp): Test {
  return (v) => {
    const s = typeof v === 'string' ? v : v instanceof BSONSymbol ? v.valueOf() : undefined;
    if (s === undefined) return false;
    re.lastIndex = 0;
    return re.test(s);
  };
}

function inTest(operands: unknown[]): Test {
  let matchesNull = false;
  const keys = new Set<string>();
  const patterns: Test[] = [];
  for (const operand of operands) {
    if (operand === null || operand === undefined) matchesNull = true;
    else if (operand instanceof RegExp) patterns.push(regexTest(operand));
    else keys.add(valueKey(operand));
  }
  return (v) => {
    if (isNullish(v)) return matchesNull;
    return keys.has(valueKey(v)) || patterns.some((p) => p(v));
  };
}

/**
 * `$gt`-like comparisons only compare within one canonical type (numbers with numbers, dates with
 * dates), except against MinKey/MaxKey; null bounds match null and missing with `$gte`/`$lte`.
 */
function rangeTest(operand: unknown, accept: (c: number) => boolean): Test {
  if (operand instanceof MinKey || operand instanceof MaxKey) {
    return (v) => accept(compareValues(v === MISSING ? null : v, operand));
  }
  if (operand === null || operand === undefined) return (v) => isNullish(v) && accept(0);
  const rank = typeRank(operand);
  if (rank === Rank.Number && typeof operand === 'number') {
    return (v) =>
      typeof v === 'number'
        ? !Number.isNaN(v) && !Number.isNaN(operand)
          ? accept(v < operand ? -1 : v > operand ? 1 : 0)
          : accept(compareNumbers(v, operand))
        : typeRank(v) === Rank.Number && accept(compareNumbers(v, operand));
  }
  return (v) => v !== MISSING && typeRank(v) === rank && accept(compareValues(v, operand));
}

const TYPE_ALIASES: Record<string, (v: unknown) => boolean> = {
  number: (v) => typeRank(v) === Rank.Number,
  double: (v) => numericType(v) === 'double',
  int: (v) => numericType(v) === 'int',
  long: (v) => numericType(v) === 'long',
  decimal: (v) => v instanceof Decimal128,
  string: (v) => typeof v === 'string',
  object: (v) => typeRank(v) === Rank.Object,
  array: (v) => Array.isArray(v),
  binData: (v) => typeRank(v) === Rank.Binary,
  objectId: (v) => typeRank(v) === Rank.ObjectId,
  bool: (v) => typeof v === 'boolean',
  date: (v) => v instanceof Date,
  null: (v) => v === null,
  regex: (v) => typeRank(v) === Rank.RegExp,
  symbol: (v) => v instanceof BSONSymbol,
  javascript: (v) => typeRank(v) === Rank.Code,
  timestamp: (v) => typeRank(v) === Rank.Timestamp,
  minKey: (v) => v instanceof MinKey,
  maxKey: (v) => v instanceof MaxKey,
};

/** BSON type numbers, to aliases. */
export const TYPE_CODES: Record<number, string> = {
  1: 'double',
  2: 'string',
  3: 'object',
  4: 'array',
  5: 'binData',
  7: 'objectId',
  8: 'bool',
  9: 'date',
  10: 'null',
  11: 'regex',
  13: 'javascript',
  14: 'symbol',
  16: 'int',
  17: 'timestamp',
  18: 'long',
  19: 'decimal',
  [-1]: 'minKey',
  127: 'maxKey',
};

export function knownTypeAlias(alias: string): boolean {
  return Object.prototype.hasOwnProperty.call(TYPE_ALIASES, alias);
}

function typeTest(operand: unknown): Test {
  const aliases = (Array.isArray(operand) ? operand : [operand]).map((t) =>
    typeof t === 'number' ? (TYPE_CODES[t] as string) : (t as string),
  );
  const tests = aliases.map((alias) => TYPE_ALIASES[alias] as Test);
  return (v) => v !== MISSING && tests.some((t) => t(v));
}

/** `$elemMatch` criteria: conditions on the element itself (`{ $gt: 1 }`) or a query on it. */
function elemMatchTest(criteria: Document): Test {
  const keys = Object.keys(criteria);
  const operatorForm =
    keys.length > 0 &&
    keys.every((k) => k.startsWith('$') && !DBREF_FIELDS.has(k) && !['$and', '$or', '$nor', '$expr'].includes(k));
  if (operatorForm) {
    const predicate = compileCriteria({ v: criteria });
    return (element) => predicate({ v: element });
  }
  const predicate = compileCriteria(criteria);
  return (element) =>
    (isPlainObject(element) && predicate(element)) || (element instanceof DBRef && predicate(dbRefDocument(element)));
}

/**
 * Sub-queries compile with `matcher.ts` (which imports this module; both only call each other at
 * run time). mingo may also call these operators with criteria it did not get from `matcher.ts`
 * (inside a projection), so criteria are validated here.
 */
function compileCriteria(criteria: Document): (doc: Document) => boolean {
  return compilePrepared(prepareFilter(criteria, '$elemMatch'));
}

function leaf(build: (operand: unknown, options: Options) => Test, elements = true) {
  return (selector: string, operand: unknown, options: Options): Predicate => {
    const test = build(operand, options);
    return (doc) => anyValue(doc, selector, test, elements);
  };
}

function negated(build: (operand: unknown, options: Options) => Test) {
  return (selector: string, operand: unknown, options: Options): Predicate => {
    const test = build(operand, options);
    return (doc) => !anyValue(doc, selector, test);
  };
}

export const leafOperators = {
  $eq: leaf((operand) => equalsTest(operand)),
  $ne: negated((operand) => equalsTest(operand)),
  $gt: leaf((operand) => rangeTest(operand, (c) => c > 0)),
  $gte: leaf((operand) => rangeTest(operand, (c) => c >= 0)),
  $lt: leaf((operand) => rangeTest(operand, (c) => c < 0)),
  $lte: leaf((operand) => rangeTest(operand, (c) => c <= 0)),
  $in: leaf((operand) => inTest(operand as unknown[])),
  $nin: negated((operand) => inTest(operand as unknown[])),
  $regex: leaf((operand) => regexTest(operand as RegExp)),
  $type: leaf((operand) => typeTest(operand)),
  $mod: leaf((operand) => {
    const [divisor, remainder] = (operand as unknown[]).map(toNumber) as [number, number];
    return (v) =>
      typeRank(v) === Rank.Number && Math.trunc(toNumber(v)) % Math.trunc(divisor) === Math.trunc(remainder);
  }),
  $exists:
    (selector: string, operand: unknown): Predicate =>
    (doc) =>
      anyValue(doc, selector, (v) => v !== MISSING, false) === Boolean(operand),
  $size: leaf((operand) => (v) => Array.isArray(v) && v.length === operand, false),
  $elemMatch: leaf((operand) => {
    const test = elemMatchTest(operand as Document);
    return (v) => Array.isArray(v) && v.some(test);
  }, false),
  $all: (selector: string, operand: unknown): Predicate => {
    const tests = (operand as unknown[]).map((item): Predicate => {
      if (isPlainObject(item) && Object.keys(item)[0] === '$elemMatch') {
        const test = elemMatchTest(item['$elemMatch'] as Document);
        return (doc) => anyValue(doc, selector, (v) => Array.isArray(v) && v.some(test), false);
      }
      const test = item instanceof RegExp ? regexTest(item) : equalsTest(item);
      return (doc) => anyValue(doc, selector, test);
    });
    return (doc) => tests.length > 0 && tests.every((test) => test(doc));
  },
};
