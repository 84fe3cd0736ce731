import { BSONSymbol, Code, DBRef, Decimal128, Double, Int32, Long } from 'bson';

/**
 * How a number keeps its BSON type here. Values are decoded with `promoteValues: false` and put in
 * one normal form, which every part of the server (and bson, when it encodes a reply or the
 * journal) reads back as the type that was stored:
 *
 * - int32: a JavaScript number that is a safe integer in int32 range and not -0 (bson encodes
 *   exactly those as int32, so the common case stays a plain number);
 * - double: a JavaScript number otherwise, or a `Double` wrapper when its value would look like
 *   an int32 (`Double(1)`, `Double(-0)` stays a number as bson encodes -0 as a double);
 * - int64: always a `Long`, whatever its size;
 * - Decimal128: a `Decimal128`.
 *
 * Comparisons, index keys and sorts (storage/values.ts) compare all four by numeric value.
 */

export type NumericType = 'int' | 'long' | 'double' | 'decimal';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Whether a JavaScript number is one bson encodes as int32. */
export function looksLikeInt32(n: number): boolean {
  return Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX && !Object.is(n, -0);
}

/** A double in normal form: a plain number unless it would be encoded as an int32. */
export function asDouble(n: number): number | Double {
  return looksLikeInt32(n) ? new Double(n) : n;
}

/** The BSON numeric type of a value in normal form, or undefined for a non-number. */
export function numericType(value: unknown): NumericType | undefined {
  if (typeof value === 'number') return looksLikeInt32(value) ? 'int' : 'double';
  if (value === null || typeof value !== 'object') return undefined;
  if (value instanceof Long) return 'long';
  if (value instanceof Double) return 'double';
  if (value instanceof Decimal128) return 'decimal';
  if (value instanceof Int32) return 'int';
  return undefined;
}

const WIDTH: Record<NumericType, number> = { int: 0, long: 1, double: 2, decimal: 3 };

/** The type MongoDB gives the result of arithmetic on these types: the widest of them. */
export function widestType(types: NumericType[]): NumericType {
  let widest: NumericType = 'int';
  for (const type of types) if (WIDTH[type] > WIDTH[widest]) widest = type;
  return widest;
}

/**
 * An integral result in MongoDB's type for integer arithmetic of `type` (int or long): an int32
 * that does not fit becomes a long, as MongoDB promotes it. Undefined when even a long cannot hold it.
 */
export function integerOfType(value: bigint, type: 'int' | 'long'): number | Long | undefined {
  if (type === 'int' && value >= BigInt(INT32_MIN) && value <= BigInt(INT32_MAX)) return Number(value);
  if (value >= -(2n ** 63n) && value < 2n ** 63n) return Long.fromBigInt(value);
  return undefined;
}

/**
 * A JavaScript number holding the exact value of an int32, a double, or an int64 within 2^53;
 * undefined for a Decimal128, a larger int64 or a non-number.
 */
export function exactNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (value instanceof Long) {
    const n = value.toNumber();
    return Number.isSafeInteger(n) ? n : undefined;
  }
  if (value instanceof Double || value instanceof Int32) return value.value;
  return undefined;
}

/** A number of `type` with the value `n` (as computed by JavaScript), in normal form. */
export function numberOfType(n: number, type: NumericType): unknown {
  if (type === 'double' || !Number.isInteger(n)) return asDouble(n);
  if (type === 'int' && looksLikeInt32(n)) return n;
  if (Number.isSafeInteger(n)) return Long.fromNumber(n);
  return n; // Beyond 2^53 the JavaScript result is already a rounded double.
}

/**
 * Puts a value decoded with `promoteValues: false` in normal form, in place: Int32s become
 * numbers, Doubles numbers unless they look like int32s, symbols strings (as `promoteValues`
 * made them before); Longs and Decimal128s stay. Returns the value to store in place of `value`.
 */
export function normalizeNumbers(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item !== null && typeof item === 'object') value[i] = normalizeNumbers(item);
    }
    return value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Object.prototype || proto === null) {
    const obj = value as Record<string, unknown>;
    for (const key in obj) {
      const item = obj[key];
      if (item !== null && typeof item === 'object') {
        const normal = normalizeNumbers(item);
        // Defined, not assigned: a key named `__proto__` is an own field (see storage/values.ts).
        if (normal !== item)
          Object.defineProperty(obj, key, { value: normal, writable: true, enumerable: true, configurable: true });
      }
    }
    return obj;
  }
  if (value instanceof Int32) return value.value;
  if (value instanceof Double) return looksLikeInt32(value.value) ? value : value.value;
  if (value instanceof BSONSymbol) return value.valueOf();
  if (value instanceof DBRef) {
    value.oid = normalizeNumbers(value.oid) as DBRef['oid'];
    normalizeNumbers(value.fields);
    return value;
  }
  if (value instanceof Code && value.scope) normalizeNumbers(value.scope);
  return value;
}

/** How messages and journal records are decoded: numbers keep their BSON type (see above). */
export const DESERIALIZE_OPTIONS = {
  promoteLongs: false,
  promoteValues: false,
  promoteBuffers: false,
  bsonRegExp: true,
} as const;
