import { Decimal128, Double, Long } from 'bson';
import { notSupported } from '../errors';
import { asDouble, exactNumber, integerOfType, numericType, widestType, type NumericType } from '../storage/numbers';
import { compareValues, Rank, typeRank } from '../storage/values';

/**
 * Values in aggregation expressions, as MongoDB's `Value` class treats them: a missing field is
 * its own value, below null (`{ $eq: ['$missing', null] }` is false, `{ $lt: ['$missing', null] }`
 * true), and everything else compares in BSON order, across types.
 */
export function compareExpressionValues(a: unknown, b: unknown): number {
  if (a === undefined || b === undefined) {
    if (a === b) return 0;
    const other = a === undefined ? b : a;
    // Only MinKey sorts below missing.
    const missingFirst = typeRank(other) === Rank.MinKey ? 1 : -1;
    return a === undefined ? missingFirst : -missingFirst;
  }
  return compareValues(a, b);
}

/** MongoDB's truthiness: false, null, missing and numeric zeros are false; NaN and '' are true. */
export function isTruthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return false;
  if (typeof value === 'number') return value !== 0;
  if (value instanceof Long) return !value.isZero();
  if (value instanceof Double) return value.value !== 0;
  if (value instanceof Decimal128) return !/^-?0(?:\.0*)?(?:E[+-]?\d+)?$/i.test(value.toString());
  return true;
}

/** A number JavaScript arithmetic would get wrong: Decimal128, or an int64 beyond 2^53. */
export function isInexact(value: unknown): boolean {
  return value instanceof Decimal128 || (value instanceof Long && exactNumber(value) === undefined);
}

/** Refuses, naming the operator, when any value (or element of an array value) is inexact. */
export function assertExact(operator: string, values: unknown[]): void {
  for (const value of values) {
    if (isInexact(value) || (Array.isArray(value) && value.some(isInexact))) {
      throw notSupported(`${operator} on Decimal128 or on int64 values beyond 2^53`);
    }
  }
}

/**
 * MongoDB's `$sum`: integers exactly, doubles with a compensated (double-double) sum whose result
 * is the double nearest the exact sum, as MongoDB's DoubleDoubleSummation (2Sum and Fast2Sum).
 * Used for sums that involve a double (integers alone are added exactly by `sumOf`).
 */
export class Summation {
  private sum = 0;
  private addend = 0;
  private special = 0;
  private integers = 0n;
  private integral = true;
  count = 0;

  add(x: number): void {
    this.count++;
    if (this.integral && Number.isSafeInteger(x)) this.integers += BigInt(x);
    else this.integral = false;
    this.special += x;
    // Fast2Sum of x and the addend (the addend is the smaller), then 2Sum with the running sum.
    const s1 = x + this.addend;
    const t1 = this.addend - (s1 - x);
    const s2 = this.sum + s1;
    const aPrime = s2 - s1;
    const t2 = this.sum - aPrime + (s1 - (s2 - aPrime));
    this.sum = s2;
    this.addend = t1 + t2;
  }

  value(): number {
    // Integral doubles: the double nearest their exact sum, as the compensated sum gives.
    if (this.integral) return Number(this.integers);
    return Number.isNaN(this.sum) ? this.special : this.sum;
  }
}

interface Total {
  type: NumericType;
  count: number;
  /** The exact sum when every value is an int32 or int64. */
  integers: bigint;
  /** The compensated sum when a double is among them. */
  doubles: Summation;
}

/**
 * What `$sum`/`$avg` add up: the numbers among `values` (others are ignored, as in MongoDB), with
 * the type of the widest; Decimal128, and int64 beyond 2^53 mixed with doubles, are refused.
 */
function totalOf(operator: string, values: unknown[]): Total {
  const numbers = values.filter((v) => numericType(v) !== undefined);
  const type = widestType(numbers.map((v) => numericType(v) as NumericType));
  const total: Total = { type, count: numbers.length, integers: 0n, doubles: new Summation() };
  if (type === 'decimal') throw notSupported(`${operator} on Decimal128 values`);
  if (type === 'double') {
    assertExact(operator, numbers);
    for (const v of numbers) total.doubles.add(exactNumber(v) as number);
  } else {
    for (const v of numbers) total.integers += v instanceof Long ? v.toBigInt() : BigInt(exactNumber(v) as number);
  }
  return total;
}

/** MongoDB's `$sum`: int32s give an int32, or an int64 when it overflows; int64s an int64, or a double when that overflows; any double a double. */
export function sumOf(operator: string, values: unknown[]): unknown {
  const total = totalOf(operator, values);
  if (total.type === 'double') return asDouble(total.doubles.value());
  return integerOfType(total.integers, total.type as 'int' | 'long') ?? asDouble(Number(total.integers));
}

/** MongoDB's `$avg`: always a double (null without numbers). */
export function averageOf(operator: string, values: unknown[]): unknown {
  const total = totalOf(operator, values);
  if (total.count === 0) return null;
  const sum = total.type === 'double' ? total.doubles.value() : Number(total.integers);
  return asDouble(sum / total.count);
}

/** `$max`/`$min` over values: null and missing are ignored; null if nothing is left. */
export function extremeOf(values: unknown[], sign: 1 | -1): unknown {
  let best: unknown = null;
  let found = false;
  for (const v of values) {
    if (v === undefined || v === null) continue;
    if (!found || sign * compareExpressionValues(v, best) > 0) best = v;
    found = true;
  }
  return best;
}
