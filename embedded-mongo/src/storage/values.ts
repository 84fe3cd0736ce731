import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  Code,
  DBRef,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
} from 'bson';
import { exactNumber, numericType } from './numbers';

/**
 * BSON values in MongoDB's comparison order. Index keys, unique checks, query predicates and sorts
 * all rest on `compareValues` and `valueKey`, so that `1`, `1.0` and `Long(1)` are one key, an
 * ObjectId sorts after every string, and two ObjectIds compare by their bytes, as in MongoDB.
 */

/** The index key of an empty array: MongoDB indexes `[]` as `undefined`, below null. */
export const EMPTY_ARRAY_KEY: unique symbol = Symbol('emptyArray');

/** MongoDB's canonical type order (MinKey < null < numbers < strings < objects < arrays < …). */
export enum Rank {
  MinKey = 0,
  EmptyArrayKey = 1,
  Null = 2,
  Number = 3,
  String = 4,
  Object = 5,
  Array = 6,
  Binary = 7,
  ObjectId = 8,
  Boolean = 9,
  Date = 10,
  Timestamp = 11,
  RegExp = 12,
  DBPointer = 13,
  Code = 14,
  MaxKey = 100,
}

export function typeRank(value: unknown): Rank {
  switch (typeof value) {
    case 'number':
    case 'bigint':
      return Rank.Number;
    case 'string':
      return Rank.String;
    case 'boolean':
      return Rank.Boolean;
    case 'undefined':
      return Rank.Null;
    case 'symbol':
      return value === EMPTY_ARRAY_KEY ? Rank.EmptyArrayKey : Rank.Null;
    case 'function':
      return Rank.Code;
    default:
      break;
  }
  if (value === null) return Rank.Null;
  if (Array.isArray(value)) return Rank.Array;
  if (value instanceof Date) return Rank.Date;
  if (value instanceof ObjectId) return Rank.ObjectId;
  if (value instanceof Long || value instanceof Decimal128 || value instanceof Int32 || value instanceof Double)
    return Rank.Number;
  if (value instanceof Binary || value instanceof Uint8Array) return Rank.Binary;
  if (value instanceof Timestamp) return Rank.Timestamp;
  if (value instanceof RegExp || value instanceof BSONRegExp) return Rank.RegExp;
  if (value instanceof BSONSymbol) return Rank.String;
  if (value instanceof MinKey) return Rank.MinKey;
  if (value instanceof MaxKey) return Rank.MaxKey;
  if (value instanceof Code) return Rank.Code;
  return Rank.Object;
}

// ---------------------------------------------------------------------------------------------
// Numbers. JS numbers (int32 and double), Doubles and Longs within 2^53 (see numbers.ts for how
// each BSON type is held) compare natively by value; a Long beyond 2^53 or a Decimal128 is compared
// exactly as a decimal, so no two distinct values ever look equal.

/** An exact decimal: `sign · coefficient · 10^exponent`, coefficient without trailing zeros. */
interface Exact {
  kind: 'finite' | 'nan' | 'inf' | '-inf';
  negative: boolean;
  coefficient: bigint;
  exponent: number;
}

function normalizeExact(negative: boolean, coefficient: bigint, exponent: number): Exact {
  if (coefficient === 0n) return { kind: 'finite', negative: false, coefficient: 0n, exponent: 0 };
  while (coefficient % 10n === 0n) {
    coefficient /= 10n;
    exponent++;
  }
  return { kind: 'finite', negative, coefficient, exponent };
}

function exactOfDouble(n: number): Exact {
  if (Number.isNaN(n)) return { kind: 'nan', negative: false, coefficient: 0n, exponent: 0 };
  if (!Number.isFinite(n)) return { kind: n > 0 ? 'inf' : '-inf', negative: n < 0, coefficient: 0n, exponent: 0 };
  const negative = n < 0;
  let x = Math.abs(n);
  if (Number.isInteger(x)) return normalizeExact(negative, BigInt(x), 0);
  // x = m / 2^e exactly; m / 2^e = m·5^e / 10^e.
  let e = 0;
  while (!Number.isInteger(x)) {
    x *= 2;
    e++;
  }
  return normalizeExact(negative, BigInt(x) * 5n ** BigInt(e), -e);
}

function exactOfDecimal(value: Decimal128): Exact {
  const text = value.toString();
  if (text === 'NaN' || text === '-NaN') return { kind: 'nan', negative: false, coefficient: 0n, exponent: 0 };
  if (text === 'Infinity') return { kind: 'inf', negative: false, coefficient: 0n, exponent: 0 };
  if (text === '-Infinity') return { kind: '-inf', negative: true, coefficient: 0n, exponent: 0 };
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:E([+-]\d+))?$/i.exec(text);
  if (!match) return { kind: 'nan', negative: false, coefficient: 0n, exponent: 0 };
  const fraction = match[3] ?? '';
  const coefficient = BigInt(`${match[2] ?? '0'}${fraction}`);
  return normalizeExact(match[1] === '-', coefficient, Number(match[4] ?? 0) - fraction.length);
}

function exactOf(value: unknown): Exact {
  if (typeof value === 'number') return exactOfDouble(value);
  if (typeof value === 'bigint') return normalizeExact(value < 0n, value < 0n ? -value : value, 0);
  if (value instanceof Long) return exactOf(value.toBigInt());
  if (value instanceof Decimal128) return exactOfDecimal(value);
  if (value instanceof Int32 || value instanceof Double) return exactOfDouble(value.valueOf());
  return { kind: 'nan', negative: false, coefficient: 0n, exponent: 0 };
}

function compareExact(a: Exact, b: Exact): number {
  // NaN sorts below every number in MongoDB, then -Infinity, finite values, Infinity.
  const order = (x: Exact) => (x.kind === 'nan' ? 0 : x.kind === '-inf' ? 1 : x.kind === 'inf' ? 3 : 2);
  if (order(a) !== order(b) || a.kind !== 'finite') return sign(order(a) - order(b));
  const sa = a.coefficient === 0n ? 0 : a.negative ? -1 : 1;
  const sb = b.coefficient === 0n ? 0 : b.negative ? -1 : 1;
  if (sa !== sb) return sign(sa - sb);
  if (sa === 0) return 0;
  const shift = a.exponent - b.exponent;
  const x = shift > 0 ? a.coefficient * 10n ** BigInt(shift) : a.coefficient;
  const y = shift < 0 ? b.coefficient * 10n ** BigInt(-shift) : b.coefficient;
  const magnitude = x < y ? -1 : x > y ? 1 : 0;
  return sa < 0 ? -magnitude : magnitude;
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

export function compareNumbers(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a < b) return -1;
    if (a > b) return 1;
    if (a === b) return 0;
    // At least one NaN: NaN equals NaN and sorts below everything else.
    return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : 1;
  }
  // Int32(1) == Double(1) == Long(1): compared by value whenever both are exact as JS numbers.
  const x = exactNumber(a);
  const y = exactNumber(b);
  if (x !== undefined && y !== undefined) return compareNumbers(x, y);
  return compareExact(exactOf(a), exactOf(b));
}

/** A JS number for arithmetic; exact for every promoted value, approximate for Decimal128. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Long) return value.toNumber();
  if (value instanceof Int32 || value instanceof Double) return value.valueOf();
  if (value instanceof Decimal128) return Number(value.toString());
  return Number.NaN;
}

function numberKey(value: unknown): string {
  if (typeof value === 'number') return `n${Object.is(value, -0) ? 0 : value}`;
  const n = exactNumber(value);
  if (n !== undefined) return numberKey(n);
  const exact = exactOf(value);
  if (exact.kind === 'nan') return 'nNaN';
  if (exact.kind === 'inf') return 'nInfinity';
  if (exact.kind === '-inf') return 'n-Infinity';
  // The same key as the equal JS number when there is one, so Long(5) and 5 collide.
  const asNumber = toNumber(value);
  if (compareExact(exactOfDouble(asNumber), exact) === 0) return numberKey(asNumber);
  return `n${exact.negative ? '-' : ''}${exact.coefficient}e${exact.exponent}`;
}

// ---------------------------------------------------------------------------------------------

/** MongoDB compares strings by their UTF-8 bytes, which is code point order, not UTF-16 order. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800–0xDFFF) encode code points above 0xFFFF: move them above 0xE000–0xFFFF.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function stringOf(value: unknown): string {
  return value instanceof BSONSymbol ? value.valueOf() : (value as string);
}

function bytesOf(value: unknown): Uint8Array {
  return value instanceof Binary ? value.buffer.subarray(0, value.position) : (value as Uint8Array);
}

function subtypeOf(value: unknown): number {
  return value instanceof Binary ? value.sub_type : 0;
}

function regexParts(value: unknown): [string, string] {
  if (value instanceof BSONRegExp) return [value.pattern, value.options];
  // A compiled query regex (query/regex.ts) keeps the PCRE pattern it runs as a translation.
  const re = value as RegExp & { pattern?: unknown; options?: unknown };
  if (typeof re.pattern === 'string' && typeof re.options === 'string') return [re.pattern, re.options];
  return [re.source, re.flags];
}

function compareBytes(x: Uint8Array, y: Uint8Array): number {
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const a = x[i] as number;
    const b = y[i] as number;
    if (a !== b) return a < b ? -1 : 1;
  }
  return sign(x.length - y.length);
}

/**
 * bson 7 keeps an ObjectId as four 24-bit integers (`id` builds a new Buffer on every read, which
 * made comparing two of them allocate twice). Compared as numbers, in order, they order as the
 * bytes do; without them (another bson version) the bytes are compared.
 */
interface PackedObjectId {
  i0: number;
  i1: number;
  i2: number;
  i3: number;
}

function isPacked(id: ObjectId): boolean {
  return typeof (id as unknown as PackedObjectId).i3 === 'number';
}

function compareObjectIds(a: ObjectId, b: ObjectId): number {
  if (!isPacked(a) || !isPacked(b)) return compareBytes(a.id, b.id);
  const x = a as unknown as PackedObjectId;
  const y = b as unknown as PackedObjectId;
  if (x.i0 !== y.i0) return x.i0 < y.i0 ? -1 : 1;
  if (x.i1 !== y.i1) return x.i1 < y.i1 ? -1 : 1;
  if (x.i2 !== y.i2) return x.i2 < y.i2 ? -1 : 1;
  return x.i3 < y.i3 ? -1 : x.i3 > y.i3 ? 1 : 0;
}

/** An ObjectId's hash key: its 96 bits as eight 12-bit characters (ordered as the bytes are), or hex. */
function objectIdKey(id: ObjectId): string {
  if (!isPacked(id)) return `o${id.toHexString()}`;
  const { i0, i1, i2, i3 } = id as unknown as PackedObjectId;
  return `o${String.fromCharCode(i0 >>> 12, i0 & 4095, i1 >>> 12, i1 & 4095, i2 >>> 12, i2 & 4095, i3 >>> 12, i3 & 4095)}`;
}

export function compareValues(a: unknown, b: unknown): number {
  // The common cases first: two values of one primitive type, two ObjectIds, two dates.
  const ta = typeof a;
  if (ta === typeof b) {
    if (ta === 'number') return compareNumbers(a, b);
    if (ta === 'string') return compareStrings(a as string, b as string);
    if (a instanceof ObjectId && b instanceof ObjectId) return compareObjectIds(a, b);
    if (a instanceof Date && b instanceof Date) return compareNumbers(a.getTime(), b.getTime());
  }
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case Rank.MinKey:
    case Rank.EmptyArrayKey:
    case Rank.Null:
    case Rank.MaxKey:
      return 0;
    case Rank.Number:
      return compareNumbers(a, b);
    case Rank.String:
      return compareStrings(stringOf(a), stringOf(b));
    case Rank.Array: {
      const x = a as unknown[];
      const y = b as unknown[];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(x[i], y[i]);
        if (c !== 0) return c;
      }
      return sign(x.length - y.length);
    }
    case Rank.Binary: {
      const x = bytesOf(a);
      const y = bytesOf(b);
      if (x.length !== y.length) return x.length < y.length ? -1 : 1;
      if (subtypeOf(a) !== subtypeOf(b)) return subtypeOf(a) < subtypeOf(b) ? -1 : 1;
      return compareBytes(x, y);
    }
    case Rank.ObjectId:
      return compareObjectIds(a as ObjectId, b as ObjectId);
    case Rank.Boolean:
      return a === b ? 0 : a ? 1 : -1;
    case Rank.Date:
      return compareNumbers((a as Date).getTime(), (b as Date).getTime());
    case Rank.Timestamp:
      return (a as Timestamp).compare(b as Timestamp);
    case Rank.RegExp: {
      const [pa, oa] = regexParts(a);
      const [pb, ob] = regexParts(b);
      return compareStrings(pa, pb) || compareStrings(oa, ob);
    }
    case Rank.Code:
      return compareStrings(String((a as Code).code ?? a), String((b as Code).code ?? b));
    default:
      return compareDocuments(a as Record<string, unknown>, b as Record<string, unknown>);
  }
}

/** Embedded documents compare field by field: type of the value, then name, then value. */
function compareDocuments(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const x = a[ka[i] as string];
    const y = b[kb[i] as string];
    const byType = sign(typeRank(x) - typeRank(y));
    if (byType !== 0) return byType;
    const byName = compareStrings(ka[i] as string, kb[i] as string);
    if (byName !== 0) return byName;
    const byValue = compareValues(x, y);
    if (byValue !== 0) return byValue;
  }
  return sign(ka.length - kb.length);
}

/**
 * A string that is equal for two values exactly when MongoDB considers them equal, for hash maps
 * (the `_id` map, unique checks, distinct, $group-like work).
 */
export function valueKey(value: unknown): string {
  switch (typeRank(value)) {
    case Rank.MinKey:
      return 'm';
    case Rank.EmptyArrayKey:
      return 'u';
    case Rank.Null:
      return 'z';
    case Rank.MaxKey:
      return 'M';
    case Rank.Number:
      return numberKey(value);
    case Rank.String:
      return `s${JSON.stringify(stringOf(value))}`;
    case Rank.Array:
      return `[${(value as unknown[]).map(valueKey).join(',')}]`;
    case Rank.Binary:
      return `x${subtypeOf(value)}:${Buffer.from(bytesOf(value)).toString('base64')}`;
    case Rank.ObjectId:
      return objectIdKey(value as ObjectId);
    case Rank.Boolean:
      return value ? 'T' : 'F';
    case Rank.Date:
      return `d${(value as Date).getTime()}`;
    case Rank.Timestamp:
      return `t${String(value)}`;
    case Rank.RegExp: {
      const [pattern, options] = regexParts(value);
      return `r${JSON.stringify(pattern)}/${options}`;
    }
    case Rank.Code:
      return `c${JSON.stringify(String((value as Code).code ?? value))}`;
    default:
      return `{${Object.entries(value as object)
        .map(([k, v]) => `${JSON.stringify(k)}:${valueKey(v)}`)
        .join(',')}}`;
  }
}

export function valuesEqual(a: unknown, b: unknown): boolean {
  return compareValues(a, b) === 0;
}

/** MongoDB's shell-like rendering for error messages: `{ email: "a@b.c" }`. */
export function renderValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof ObjectId) return `ObjectId('${value.toHexString()}')`;
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (value instanceof Long) return `${value.toString()}`;
  if (value instanceof Double) return Object.is(value.value, -0) ? '-0.0' : value.value.toFixed(1); // As MongoDB shows an integral double.
  if (value instanceof Decimal128) return `Decimal128('${value.toString()}')`;
  if (value instanceof Binary) return `BinData(${value.sub_type}, ${Buffer.from(bytesOf(value)).toString('hex')})`;
  if (Array.isArray(value)) return `[ ${value.map(renderValue).join(', ')} ]`;
  if (value === EMPTY_ARRAY_KEY) return 'undefined';
  if (typeRank(value) === Rank.Object) {
    const entries = Object.entries(value as object);
    if (entries.length === 0) return '{}';
    return `{ ${entries.map(([k, v]) => `${k}: ${renderValue(v)}`).join(', ')} }`;
  }
  return String(value);
}

/** The BSON type name MongoDB uses in error messages. */
export function typeName(value: unknown): string {
  const numeric = numericType(value);
  if (numeric) return numeric;
  const names: Record<number, string> = {
    [Rank.MinKey]: 'minKey',
    [Rank.Null]: 'null',
    [Rank.String]: 'string',
    [Rank.Object]: 'object',
    [Rank.Array]: 'array',
    [Rank.Binary]: 'binData',
    [Rank.ObjectId]: 'objectId',
    [Rank.Boolean]: 'bool',
    [Rank.Date]: 'date',
    [Rank.Timestamp]: 'timestamp',
    [Rank.RegExp]: 'regex',
    [Rank.Code]: 'javascript',
    [Rank.MaxKey]: 'maxKey',
  };
  return names[typeRank(value)] ?? 'unknown';
}

/**
 * A deep copy of what an update may change: plain objects, arrays and Dates. BSON value classes
 * (ObjectId, Binary, Long, Decimal128…) are never mutated here, so they are shared.
 */
export function cloneValue<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = cloneValue(value[i]);
    return copy as T;
  }
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (isPlainObject(value)) {
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(value)) setField(copy, key, cloneValue(value[key]));
    return copy as T;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Field access by name. Field names come from clients, and `__proto__`, `constructor`,
// `toString`… are ordinary field names to MongoDB. Read as JavaScript properties they reach
// Object.prototype (`doc.constructor` is a function, `doc.__proto__ = x` replaces the prototype,
// and a path through it writes into the prototype every object of the process shares). So every
// lookup or write by a client's field name goes through these three.

const hasOwn = Object.prototype.hasOwnProperty;

/** Whether `obj` has the field itself (never through its prototype). */
export function hasField(obj: object, key: string): boolean {
  return hasOwn.call(obj, key);
}

/** The field's own value, or undefined: never a property inherited from a prototype. */
export function getField(obj: Record<string, unknown>, key: string): unknown {
  return hasOwn.call(obj, key) ? obj[key] : undefined;
}

/** Sets an own field; `__proto__` is defined as a field (assigning it would replace the prototype). */
export function setField(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/**
 * A DBRef's fields as stored (`{ $ref, $id, $db, …extra }`): bson decodes such a document into a
 * DBRef, but to queries its `$ref`, `$id` and `$db` are ordinary field names (`'ref.$id'`).
 */
export const DBREF_FIELDS = new Set(['$ref', '$id', '$db']);

export function dbRefDocument(ref: DBRef): Record<string, unknown> {
  const doc: Record<string, unknown> = { $ref: ref.collection, $id: ref.oid };
  if (ref.db) doc['$db'] = ref.db;
  for (const [key, value] of Object.entries(ref.fields)) setField(doc, key, value);
  return doc;
}

/** A plain embedded document (not an array, a Date, or a BSON value class). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null || (typeRank(value) === Rank.Object && !(value instanceof DBRef));
}

export function isNumeric(value: unknown): boolean {
  return typeRank(value) === Rank.Number;
}
