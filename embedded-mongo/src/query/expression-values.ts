import { Decimal128, Long } from 'bson';
import { notSupported } from '../errors';
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
  if (value instanceof Decimal128) return !/^-?0(?:\.0*)?(?:E[+-]?\d+)?$/i.test(value.toString());
  return true;
}

/** A number JavaScript arithmetic would get wrong: Decimal128, or an int64 beyond 2^53 (kept as a Long). */
export function isInexact(value: unknown): boolean {
  return value instanceof Long || value instanceof Decimal128;
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
 * An integral sum beyond 2^53 is refused: MongoDB would answer an exact int64 or a rounded double
 * depending on the stored types, which are not known here (both arrive as JavaScript numbers).
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

  value(operator: string): number {
    if (this.integral) {
      if (this.integers > BigInt(Number.MAX_SAFE_INTEGER) || this.integers < -BigInt(Number.MAX_SAFE_INTEGER)) {
        throw notSupported(`${operator} of integers beyond 2^53`);
      }
      return Number(this.integers);
    }
    return Number.isNaN(this.sum) ? this.special : this.sum;
  }
}

/** The numbers `$sum`/`$avg` add up (others are ignored, as in MongoDB), refusing inexact ones. */
export function numericValues(operator: string, values: unknown[]): number[] {
  assertExact(operator, values);
  return values.filter((v): v is number => typeof v === 'number');
}

export function sumOf(operator: string, values: unknown[]): number {
  const sum = new Summation();
  for (const v of numericValues(operator, values)) sum.add(v);
  return sum.value(operator);
}

export function averageOf(operator: string, values: unknown[]): number | null {
  const sum = new Summation();
  for (const v of numericValues(operator, values)) sum.add(v);
  if (sum.count === 0) return null;
  return sum.value(operator) / sum.count;
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
