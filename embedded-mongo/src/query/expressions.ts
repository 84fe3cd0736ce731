import { BSONRegExp, Decimal128, Double, Long, ObjectId, type Document } from 'bson';
import { evalExpr } from 'mingo/core';
import type { Iterator } from 'mingo/lazy';
import { Lazy } from 'mingo/lazy';
import * as mingoAccumulators from 'mingo/operators/accumulator';
import * as mingoExpressions from 'mingo/operators/expression';
import type { Options } from 'mingo/types';
import { MongoCommandError, notSupported } from '../errors';
import { asDouble, exactNumber, numberOfType, numericType, widestType, type NumericType } from '../storage/numbers';
import { hasField, isPlainObject, setField, typeName, valueKey } from '../storage/values';
import { assertExact, averageOf, compareExpressionValues, extremeOf, isTruthy, sumOf } from './expression-values';
import { arrayToObjectExpression, mergeObjectsAccumulator, mergeObjectsExpression } from './object-operators';
import { PcreRegExp, toRegExp } from './regex';

/**
 * Aggregation operators that replace mingo's where mingo's give other answers than MongoDB's:
 * comparisons in BSON order (mingo's compare JavaScript values, so `'x' > 5` is false and a
 * missing field equals null), `$max`/`$min`, `$sum`/`$avg` (exact, refusing Decimal128,
 * with MongoDB's result types), equality by BSON value in `$in`, `$indexOfArray` and the set
 * operators, `$push`/`$addToSet` skipping missing values, `$group` keys by BSON value, `$type`
 * names, and regular expressions with PCRE's meaning. Arithmetic mingo keeps is guarded: it
 * refuses Decimal128 operands, int64 operands beyond 2^53 and integer results beyond 2^53, and
 * gives its result MongoDB's type (a double from `$divide`, int32 + int64 an int64…).
 */

type ExpressionOperator = (obj: unknown, expr: unknown, options: Options) => unknown;
type AccumulatorOperator = (collection: unknown[], expr: unknown, options: Options) => unknown;

/** The name an internal operator gets: no client can mean it. */
export const TRUTHY = '$__embeddedMongoTruthy';

const args = (obj: unknown, expr: unknown, options: Options): unknown[] => {
  const value = evalExpr(obj, expr, options);
  return Array.isArray(expr) ? (value as unknown[]) : [value];
};

function exactlyTwo(name: string, obj: unknown, expr: unknown, options: Options): [unknown, unknown] {
  const values = args(obj, expr, options);
  if (!Array.isArray(expr) || values.length !== 2) {
    throw new MongoCommandError(
      'Location16020',
      `Expression ${name} takes exactly 2 arguments. ${Array.isArray(expr) ? expr.length : 1} were passed in.`,
    );
  }
  return values as [unknown, unknown];
}

const comparison =
  (name: string, test: (c: number) => boolean): ExpressionOperator =>
  (obj, expr, options) => {
    const [a, b] = exactlyTwo(name, obj, expr, options);
    return test(compareExpressionValues(a, b));
  };

/** `{ $max: x }` over x's elements when x is an array, `{ $max: [a, b] }` over a and b. */
function operandValues(obj: unknown, expr: unknown, options: Options): unknown[] {
  const values = args(obj, expr, options);
  if (values.length === 1 && Array.isArray(values[0])) return values[0] as unknown[];
  return values;
}

function arrayArgument(
  name: string,
  value: unknown,
  code: 'Location40081' | 'Location40090',
  which: string,
): unknown[] {
  if (!Array.isArray(value)) {
    throw new MongoCommandError(code, `${name} requires an array as a ${which} argument, found: ${typeName(value)}`);
  }
  return value;
}

/** Distinct values by BSON equality, in first-seen order. */
function distinct(values: unknown[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const v of values) {
    const key = valueKey(v);
    if (!out.has(key)) out.set(key, v);
  }
  return out;
}

function setArguments(name: string, values: unknown[], nullable: boolean): unknown[][] | null {
  if (nullable && values.some((v) => v === null || v === undefined)) return null;
  for (const v of values) {
    if (!Array.isArray(v)) {
      throw new MongoCommandError(
        'Location17044',
        `All operands of ${name} must be arrays. One argument is of type: ${typeName(v)}`,
      );
    }
  }
  return values as unknown[][];
}

/** `$type`: numbers keep their BSON type (storage/numbers.ts), so int, long and double are told apart. */
function typeOf(value: unknown): string {
  if (value === undefined) return 'missing';
  return typeName(value);
}

/** Regular expressions compiled once per pattern and options. */
const compiled = new Map<string, RegExp>();

function regexSpec(name: string, obj: unknown, expr: unknown, options: Options): { input: string | null; re: RegExp } {
  const spec = evalExpr(obj, expr, options);
  if (!isPlainObject(spec))
    throw new MongoCommandError(
      'Location51103',
      `${name} expects an object of named arguments but found: ${typeName(spec)}`,
    );
  for (const key of Object.keys(spec)) {
    if (!['input', 'regex', 'options'].includes(key))
      throw new MongoCommandError('Location31024', `${name} found an unknown argument: ${key}`);
  }
  const { input, regex, options: flags } = spec;
  if (input !== undefined && input !== null && typeof input !== 'string') {
    throw new MongoCommandError('Location51104', `${name} needs 'input' to be of type string`);
  }
  if (flags !== undefined && flags !== null && typeof flags !== 'string') {
    throw new MongoCommandError('Location51106', `${name} needs 'options' to be of type string`);
  }
  if (typeof regex !== 'string' && !(regex instanceof BSONRegExp) && !(regex instanceof RegExp)) {
    throw new MongoCommandError('Location51105', `${name} needs 'regex' to be of type string or regex`);
  }
  const [pattern, own] =
    typeof regex === 'string'
      ? [regex, '']
      : regex instanceof BSONRegExp
        ? [regex.pattern, regex.options]
        : regex instanceof PcreRegExp
          ? [regex.pattern, regex.options]
          : [regex.source, regex.flags];
  if (own && flags) {
    throw new MongoCommandError(
      'Location51075',
      `${name}: regex option(s) specified in both 'regex' and 'option' fields`,
    );
  }
  const key = `${pattern}\0${own}${flags ?? ''}`;
  let re = compiled.get(key);
  if (!re) {
    const translated = toRegExp(pattern, `${own}${(flags as string | undefined) ?? ''}`);
    re = new RegExp(translated.source, `${translated.flags}g`);
    if (compiled.size >= 256) compiled.clear();
    compiled.set(key, re);
  }
  return { input: typeof input === 'string' ? input : null, re };
}

interface Found {
  match: string;
  idx: number;
  captures: (string | null)[];
}

/** Matches of `re` in `input` as MongoDB reports them: `idx` in code points, unmatched groups null. */
function findAll(re: RegExp, input: string, limit: number): Found[] {
  const found: Found[] = [];
  re.lastIndex = 0;
  let codePoints = 0;
  let counted = 0;
  while (found.length < limit) {
    const m = re.exec(input);
    if (!m) break;
    for (; counted < m.index; counted += (input.codePointAt(counted) as number) > 0xffff ? 2 : 1) codePoints++;
    found.push({ match: m[0], idx: codePoints, captures: m.slice(1).map((c) => c ?? null) });
    if (m[0] === '') re.lastIndex += (input.codePointAt(re.lastIndex) ?? 0) > 0xffff ? 2 : 1;
  }
  return found;
}

/** Runs mingo's operator on operands already evaluated and checked. */
function withOperands(
  original: ExpressionOperator,
  obj: unknown,
  expr: unknown,
  values: unknown[],
  options: Options,
): unknown {
  const literal = (v: unknown) => ({ $literal: v });
  return original(obj, Array.isArray(expr) ? values.map(literal) : literal(values[0]), options);
}

/** mingo knows numbers only as JavaScript numbers: Longs within 2^53 and Doubles are given as such. */
function plainNumber(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainNumber);
  return value !== null && typeof value === 'object' ? (exactNumber(value) ?? value) : value;
}

/** Operators whose result is a double whatever the operands' types. */
const DOUBLE_RESULTS = new Set([
  '$divide',
  '$exp',
  '$ln',
  '$log',
  '$log10',
  '$sqrt',
  '$sin',
  '$cos',
  '$tan',
  '$asin',
  '$acos',
  '$atan',
  '$atan2',
  '$asinh',
  '$acosh',
  '$atanh',
  '$sinh',
  '$cosh',
  '$tanh',
  '$degreesToRadians',
  '$radiansToDegrees',
  '$toDouble',
]);

/** Operators whose result has the widest of the operands' numeric types (int32 overflowing into int64). */
const WIDEST_RESULTS = new Set([
  '$abs',
  '$add',
  '$ceil',
  '$floor',
  '$mod',
  '$multiply',
  '$pow',
  '$round',
  '$subtract',
  '$trunc',
  '$bitAnd',
  '$bitOr',
  '$bitXor',
  '$bitNot',
]);

/** A numeric result given the BSON type MongoDB gives it (mingo answers a bare JavaScript number). */
function typedResult(name: string, result: number, values: unknown[]): unknown {
  if (DOUBLE_RESULTS.has(name)) return asDouble(result);
  if (name === '$toInt') return numberOfType(result, 'int');
  if (name === '$toLong') return numberOfType(result, 'long');
  if (!WIDEST_RESULTS.has(name)) return result;
  // Two dates subtract to milliseconds as an int64.
  if (name === '$subtract' && values.every((v) => v instanceof Date)) return numberOfType(result, 'long');
  const types = values.map(numericType).filter((t): t is NumericType => t !== undefined);
  return numberOfType(result, widestType(types));
}

/**
 * mingo's arithmetic, refusing inexact operands and integer results JavaScript cannot hold exactly,
 * with its result in the BSON type MongoDB would give it.
 */
function guarded(name: string, original: ExpressionOperator): ExpressionOperator {
  return (obj, expr, options) => {
    const values = args(obj, expr, options);
    assertExact(name, values);
    const plain = values.map(plainNumber);
    const result = withOperands(original, obj, expr, plain, options);
    if (typeof result !== 'number') return result;
    // Integer arithmetic (no double among the operands) beyond 2^53 would be rounded by JavaScript.
    if (Number.isInteger(result) && !Number.isSafeInteger(result) && !values.some((v) => numericType(v) === 'double')) {
      throw notSupported(`${name} with an integer result beyond 2^53`);
    }
    return typedResult(name, result, values);
  };
}

const GUARDED = [
  '$abs',
  '$add',
  '$ceil',
  '$divide',
  '$exp',
  '$floor',
  '$ln',
  '$log',
  '$log10',
  '$mod',
  '$multiply',
  '$pow',
  '$round',
  '$sqrt',
  '$subtract',
  '$trunc',
  '$sin',
  '$cos',
  '$tan',
  '$asin',
  '$acos',
  '$atan',
  '$atan2',
  '$asinh',
  '$acosh',
  '$atanh',
  '$sinh',
  '$cosh',
  '$tanh',
  '$degreesToRadians',
  '$radiansToDegrees',
  '$bitAnd',
  '$bitOr',
  '$bitXor',
  '$bitNot',
  '$toInt',
  '$toLong',
  '$toDouble',
  '$toDecimal',
  '$toBool',
  '$toDate',
  '$range',
];

const original = mingoExpressions as unknown as Record<string, ExpressionOperator>;

export const expressionOperators: Record<string, ExpressionOperator> = {
  ...Object.fromEntries(GUARDED.map((name) => [name, guarded(name, original[name] as ExpressionOperator)])),
  $eq: comparison('$eq', (c) => c === 0),
  $ne: comparison('$ne', (c) => c !== 0),
  $gt: comparison('$gt', (c) => c > 0),
  $gte: comparison('$gte', (c) => c >= 0),
  $lt: comparison('$lt', (c) => c < 0),
  $lte: comparison('$lte', (c) => c <= 0),
  $cmp: (obj, expr, options) => {
    const [a, b] = exactlyTwo('$cmp', obj, expr, options);
    return Math.sign(compareExpressionValues(a, b));
  },
  [TRUTHY]: (obj, expr, options) => isTruthy(evalExpr(obj, expr, options)),
  $allElementsTrue: (obj, expr, options) => {
    const [array] = args(obj, expr, options);
    return arrayArgument('$allElementsTrue', array, 'Location40090', 'first').every(isTruthy);
  },
  $anyElementTrue: (obj, expr, options) => {
    const [array] = args(obj, expr, options);
    return arrayArgument('$anyElementTrue', array, 'Location40090', 'first').some(isTruthy);
  },
  $max: (obj, expr, options) => extremeOf(operandValues(obj, expr, options), 1),
  $min: (obj, expr, options) => extremeOf(operandValues(obj, expr, options), -1),
  $sum: (obj, expr, options) => sumOf('$sum', operandValues(obj, expr, options)),
  $avg: (obj, expr, options) => averageOf('$avg', operandValues(obj, expr, options)),
  $in: (obj, expr, options) => {
    const [value, list] = exactlyTwo('$in', obj, expr, options);
    return arrayArgument('$in', list, 'Location40081', 'second').some((v) => compareExpressionValues(v, value) === 0);
  },
  $indexOfArray: (obj, expr, options) => {
    const values = args(obj, expr, options);
    const [array, search, start, end] = values;
    if (array === null || array === undefined) return null;
    const list = arrayArgument('$indexOfArray', array, 'Location40090', 'first');
    const bound = (v: unknown, fallback: number) => {
      if (v === undefined) return fallback;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
        throw new MongoCommandError('Location40097', '$indexOfArray requires a non-negative integral index');
      }
      return v;
    };
    const from = bound(start, 0);
    const to = Math.min(bound(end, list.length), list.length);
    for (let i = from; i < to; i++) if (compareExpressionValues(list[i], search) === 0) return i;
    return -1;
  },
  $setUnion: (obj, expr, options) => {
    const sets = setArguments('$setUnion', args(obj, expr, options), true);
    return sets && [...distinct(sets.flat()).values()];
  },
  $setIntersection: (obj, expr, options) => {
    const sets = setArguments('$setIntersection', args(obj, expr, options), true);
    if (!sets) return null;
    const [first = [], ...rest] = sets;
    const others = rest.map((s) => new Set(s.map(valueKey)));
    return [...distinct(first).entries()].filter(([key]) => others.every((s) => s.has(key))).map(([, v]) => v);
  },
  $setDifference: (obj, expr, options) => {
    const [a, b] = exactlyTwo('$setDifference', obj, expr, options);
    const sets = setArguments('$setDifference', [a, b], true);
    if (!sets) return null;
    const remove = new Set((sets[1] as unknown[]).map(valueKey));
    return [...distinct(sets[0] as unknown[]).entries()].filter(([key]) => !remove.has(key)).map(([, v]) => v);
  },
  $setEquals: (obj, expr, options) => {
    const values = args(obj, expr, options);
    if (values.length < 2) throw new MongoCommandError('Location17045', '$setEquals needs at least two arguments');
    const sets = (setArguments('$setEquals', values, false) as unknown[][]).map((s) => [...distinct(s).keys()].sort());
    return sets.every((s) => valueKey(s) === valueKey(sets[0]));
  },
  $setIsSubset: (obj, expr, options) => {
    const [a, b] = exactlyTwo('$setIsSubset', obj, expr, options);
    const [sub, sup] = setArguments('$setIsSubset', [a, b], false) as [unknown[], unknown[]];
    const keys = new Set(sup.map(valueKey));
    return sub.every((v) => keys.has(valueKey(v)));
  },
  $type: (obj, expr, options) => {
    const [value] = args(obj, expr, options);
    return typeOf(value);
  },
  $isNumber: (obj, expr, options) => {
    const [value] = args(obj, expr, options);
    return numericType(value) !== undefined;
  },
  $toString: (obj, expr, options) => {
    const [value] = args(obj, expr, options);
    if (value instanceof ObjectId) return value.toHexString();
    if (value instanceof Long || value instanceof Decimal128) return value.toString();
    if (value instanceof Double) return String(value.value);
    if (value instanceof Date) return value.toISOString();
    return withOperands(original['$toString'] as ExpressionOperator, obj, expr, [value], options);
  },
  $mergeObjects: mergeObjectsExpression,
  $arrayToObject: arrayToObjectExpression,
  $regexMatch: (obj, expr, options) => {
    const { input, re } = regexSpec('$regexMatch', obj, expr, options);
    return input !== null && findAll(re, input, 1).length > 0;
  },
  $regexFind: (obj, expr, options) => {
    const { input, re } = regexSpec('$regexFind', obj, expr, options);
    return input === null ? null : (findAll(re, input, 1)[0] ?? null);
  },
  $regexFindAll: (obj, expr, options) => {
    const { input, re } = regexSpec('$regexFindAll', obj, expr, options);
    return input === null ? [] : findAll(re, input, Infinity);
  },
};

/** Each document's value of `expr`, `undefined` where it is missing (mingo's `$push` makes that null). */
function valuesOf(collection: unknown[], expr: unknown, options: Options): unknown[] {
  const wrapped = mingoAccumulators.$push(collection as Document[], [expr], options) as unknown[][];
  return wrapped.map((w) => w[0]);
}

const mingoAccumulator = mingoAccumulators as unknown as Record<string, AccumulatorOperator>;

export const accumulatorOperators: Record<string, AccumulatorOperator> = {
  $max: (collection, expr, options) => extremeOf(valuesOf(collection, expr, options), 1),
  $min: (collection, expr, options) => extremeOf(valuesOf(collection, expr, options), -1),
  $sum: (collection, expr, options) => sumOf('$sum', valuesOf(collection, expr, options)),
  $avg: (collection, expr, options) => averageOf('$avg', valuesOf(collection, expr, options)),
  $push: (collection, expr, options) => valuesOf(collection, expr, options).filter((v) => v !== undefined),
  $addToSet: (collection, expr, options) => [
    ...distinct(valuesOf(collection, expr, options).filter((v) => v !== undefined)).values(),
  ],
  $first: mingoAccumulator['$first'] as AccumulatorOperator,
  $last: mingoAccumulator['$last'] as AccumulatorOperator,
  $firstN: mingoAccumulator['$firstN'] as AccumulatorOperator,
  $lastN: mingoAccumulator['$lastN'] as AccumulatorOperator,
  $mergeObjects: (collection, expr, options) => mergeObjectsAccumulator(valuesOf(collection, expr, options)),
  $count: mingoAccumulator['$count'] as AccumulatorOperator,
};

/**
 * Operators (accumulators, most also expressions) embedded-mongo refuses: their mingo versions
 * order, round or sample differently from MongoDB's.
 */
export const REFUSED_OPERATORS = new Set([
  '$sortArray',
  '$stdDevPop',
  '$stdDevSamp',
  '$covariancePop',
  '$covarianceSamp',
  '$median',
  '$percentile',
  '$top',
  '$topN',
  '$bottom',
  '$bottomN',
  '$maxN',
  '$minN',
  '$accumulator',
]);

/**
 * `$group` with keys compared as BSON values (mingo's hash treats `{ a, b }` and `{ b, a }` as one
 * key, and Decimal128 `1.0` and `1` as two). A missing key groups with null, as in MongoDB.
 */
export function group(collection: Iterator, expr: unknown, options: Options): Iterator {
  if (!isPlainObject(expr) || !hasField(expr, '_id')) {
    throw new MongoCommandError('Location15955', 'a group specification must include an _id');
  }
  const idExpr = expr['_id'];
  const fields = Object.entries(expr)
    .filter(([name]) => name !== '_id')
    .map(([name, spec]) => {
      if (!isPlainObject(spec) || Object.keys(spec).length !== 1) {
        throw new MongoCommandError('Location40234', `The field '${name}' must be an accumulator object`);
      }
      const op = Object.keys(spec)[0] as string;
      if (REFUSED_OPERATORS.has(op)) throw notSupported(`the accumulator ${op}`);
      const accumulate = accumulatorOperators[op];
      if (!accumulate) throw new MongoCommandError('Location15952', `unknown group operator '${op}'`);
      return { name, accumulate, arg: spec[op] };
    });
  return collection.transform((items: unknown[]) => {
    const groups = new Map<string, { id: unknown; docs: unknown[] }>();
    for (const item of items) {
      const id = evalExpr(item, idExpr, options) ?? null;
      const key = valueKey(id);
      const existing = groups.get(key);
      if (existing) existing.docs.push(item);
      else groups.set(key, { id, docs: [item] });
    }
    return Lazy(
      [...groups.values()].map(({ id, docs }) => {
        const out: Document = { _id: id };
        for (const { name, accumulate, arg } of fields) setField(out, name, accumulate(docs, arg, options));
        return out;
      }),
    ) as never;
  });
}
