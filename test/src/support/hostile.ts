import fc from 'fast-check';
import { LIMITS } from '@parley/protocol';

/**
 * Hostile inputs for the fuzz suite: values no honest client sends, and mutations that turn a valid
 * input (from zod-arbitrary.ts) into one: wrong types, missing and extra fields, strings and
 * arrays beyond the protocol's limits, deep nesting, keys that reach prototypes, MongoDB operators
 * where values belong, lone surrogates, numbers at the edges, arrays where objects belong, null.
 */

/** Query operators and update-ish objects a careless `find(input)` would obey. */
export const MONGO_OPERATORS: readonly unknown[] = [
  { $gt: '' },
  { $ne: null },
  { $ne: 'x' },
  { $where: 'sleep(2000) || true' },
  { $where: 'function () { return true; }' },
  { $regex: '.*' },
  { $regex: '^', $options: 'i' },
  { $in: ['a', 'b'] },
  { $nin: [] },
  { $exists: true },
  { $expr: { $eq: [1, 1] } },
  { $function: { body: 'function () { return true; }', args: [], lang: 'js' } },
  { $set: { role: 'owner' } },
  { $or: [{ a: 1 }, { b: { $gt: '' } }] },
];

/** Numbers JSON can carry that sit at an edge (NaN and Infinity cannot be sent; JSON makes -0 a 0). */
export const EDGE_NUMBERS: readonly number[] = [
  -0,
  0,
  -1,
  0.5,
  -0.5,
  1.0000001,
  5e-324,
  1e308,
  -1e308,
  2 ** 31,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53 + 1,
  -(2 ** 53 + 1),
  1e21,
];

/** The same numbers as a query string would carry them, and what else a number parser may take. */
export const EDGE_NUMBER_TEXTS: readonly string[] = [
  ...EDGE_NUMBERS.map((n) => (Object.is(n, -0) ? '-0' : String(n))),
  '9007199254740993',
  '0x10',
  '1e3',
  ' 1',
  '1 ',
  '+1',
  '01',
  '',
  'NaN',
  'Infinity',
  '999999999999999999999',
];

export const LONE_SURROGATE_TEXTS: readonly string[] = ['\uD800', '\uDFFF', 'a\uD83Db', '\uDE00x', 'ok\uDBFF'];

/** Keys that reach an object's prototype when copied carelessly. */
export const PROTO_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

const EXTRA_KEYS: readonly string[] = [
  ...PROTO_KEYS,
  '$where',
  '$gt',
  '$set',
  'extra',
  'id',
  'projectId',
  'userId',
  'role',
];

/** Lengths one past each limit of the protocol, and far past. */
const HUGE_LENGTHS: readonly number[] = [
  LIMITS.idMax + 1,
  LIMITS.clientKeyMax + 1,
  LIMITS.nameMax + 1,
  LIMITS.emailMax + 1,
  LIMITS.phoneMax + 1,
  LIMITS.tagMax + 1,
  LIMITS.attributeKeyMax + 1,
  LIMITS.attributeValueMax + 1,
  LIMITS.searchQueryMax + 1,
  LIMITS.passwordMax + 1,
  LIMITS.messageTextDefaultMax + 1,
  LIMITS.messageTextHardMax + 1,
  LIMITS.tokenMax + 1,
  40_000,
];

/** Sets a property as an own one, even `__proto__` (plain assignment would set the prototype). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** An object with an own `__proto__` key, as `JSON.parse` makes it from the wire. */
export function ownProtoObject(value: unknown): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  setOwn(object, '__proto__', value);
  return object;
}

/** A deep copy that keeps own `__proto__` keys own (iterative: values may be nested thousands deep). */
export function copy<T>(value: T): T {
  const clone = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return v;
    return Array.isArray(v) ? new Array<unknown>(v.length) : {};
  };
  const root = clone(value);
  const stack: [unknown, unknown][] = [[value, root]];
  while (stack.length > 0) {
    const [from, to] = stack.pop() as [unknown, unknown];
    if (from === null || typeof from !== 'object' || ArrayBuffer.isView(from)) continue;
    for (const [key, child] of Object.entries(from)) {
      const childCopy = clone(child);
      if (Array.isArray(to)) to[Number(key)] = childCopy;
      else setOwn(to as Record<string, unknown>, key, childCopy);
      stack.push([child, childCopy]);
    }
  }
  return root as T;
}

/** A value `depth` arrays or objects deep. */
export function nested(depth: number, kind: 'array' | 'object'): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { a: value };
  return value;
}

const hugeString = fc
  .tuple(fc.constantFrom(...HUGE_LENGTHS), fc.constantFrom('x', ' ', 'é', '😀', '\u0000', '<', '$'))
  .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length));

/** A value of any kind an attacker may put where a field's value belongs. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.constantFrom(...MONGO_OPERATORS),
  fc.constantFrom(...EDGE_NUMBERS),
  fc.constantFrom(...LONE_SURROGATE_TEXTS),
  hugeString,
  fc.constantFrom(true, false, '', ' ', '0', 'null', 'undefined', '[object Object]'),
  fc.constantFrom(10, 100, 1000, 2000).chain((d) => fc.constantFrom(nested(d, 'array'), nested(d, 'object'))),
  fc.constantFrom(
    ownProtoObject({ admin: true }),
    { constructor: { prototype: { admin: true } } },
    { prototype: { admin: true } },
    ownProtoObject(null),
  ),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.constantFrom(...MONGO_OPERATORS)), { maxLength: 4 }),
  fc.array(fc.constant('x'), { minLength: LIMITS.tagsMax + 1, maxLength: LIMITS.mergeSourcesMax + 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), {
    minKeys: LIMITS.attributesMax + 1,
    maxKeys: 60,
  }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.anything({ maxDepth: 3 }),
  // Socket.IO carries binary attachments: the server receives a Buffer where JSON gives no such thing.
  fc.constantFrom(Buffer.from('bin'), Buffer.alloc(0), new Uint8Array([36, 103, 116])),
);

/** A payload that is not an object at all. */
export const hostilePayload: fc.Arbitrary<unknown> = fc.oneof(
  hostileValue,
  fc.constant([]),
  fc.constant([{}]),
  fc.constant({}),
);

type Path = (string | number)[];

/** Every place of a value a mutation can hit: the value itself, and each property or element inside. */
function pathsOf(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (prefix.length > 6 || ArrayBuffer.isView(value)) return out;
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...prefix, i], out));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out);
  return out;
}

export type Mutation =
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'delete'; at: number }
  | { kind: 'extra'; at: number; key: string; value: unknown }
  | { kind: 'wrap-array'; at: number }
  | { kind: 'surrogate'; at: number; text: string }
  | { kind: 'edge-number'; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: hostileValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('extra' as const),
      at: fc.nat(),
      key: fc.oneof(fc.constantFrom(...EXTRA_KEYS), fc.string({ maxLength: 10 })),
      value: fc.oneof(hostileValue, fc.string({ maxLength: 5 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wrap-array' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('surrogate' as const),
      at: fc.nat(),
      text: fc.constantFrom(...LONE_SURROGATE_TEXTS),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('edge-number' as const),
      at: fc.nat(),
      value: fc.constantFrom(...EDGE_NUMBERS),
    }),
  },
);

export const mutations: fc.Arbitrary<Mutation[]> = fc.array(mutation, { minLength: 1, maxLength: 3 });

/** `value` with the mutations applied in order (on a copy); a mutation of the root replaces it. */
export function mutate(value: unknown, list: readonly Mutation[]): unknown {
  let root: unknown = copy(value);
  for (const m of list) {
    const paths = pathsOf(root);
    const path = paths[m.at % paths.length] ?? [];
    const current = path.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key as string], root);
    let next: unknown = current;
    switch (m.kind) {
      case 'replace':
        next = copy(m.value);
        break;
      case 'edge-number':
        next = m.value;
        break;
      case 'wrap-array':
        next = [current];
        break;
      case 'surrogate':
        next = typeof current === 'string' ? `${current.slice(0, 3)}${m.text}${current.slice(3)}` : m.text;
        break;
      case 'extra':
        if (
          current !== null &&
          typeof current === 'object' &&
          !Array.isArray(current) &&
          !ArrayBuffer.isView(current)
        ) {
          setOwn(current as Record<string, unknown>, m.key, copy(m.value));
          continue;
        }
        next = {};
        setOwn(next as Record<string, unknown>, m.key, copy(m.value));
        break;
      case 'delete':
        if (path.length === 0) {
          next = undefined;
          break;
        }
        {
          const parent = path
            .slice(0, -1)
            .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key as string], root);
          const key = path[path.length - 1] as string | number;
          if (Array.isArray(parent)) parent.splice(Number(key), 1);
          else delete (parent as Record<string, unknown>)[key];
        }
        continue;
    }
    if (path.length === 0) root = next;
    else {
      const parent = path
        .slice(0, -1)
        .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key as string], root);
      const key = path[path.length - 1] as string | number;
      if (Array.isArray(parent)) parent[Number(key)] = next;
      else setOwn(parent as Record<string, unknown>, String(key), next);
    }
  }
  return root;
}

/**
 * Query-string pairs (`[key, value]`, already percent-encoded) that a hostile client may send:
 * keys repeated (the parser makes an array), bracket keys, prototype keys, edge numbers, values past
 * the limits, broken and overlong percent-encodings.
 */
export const hostileQueryPair: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(
    fc.constantFrom('email', 'q', 'tag', 'page', 'limit', 'afterSeq', 'leadId', 'status'),
    fc.oneof(
      fc.constantFrom(...EDGE_NUMBER_TEXTS).map(encodeURIComponent),
      hugeString.filter((s) => s.length < 30_000).map((s) => encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, 'x'))),
      fc.constantFrom('%E0%A4%A', '%ED%A0%80', '%C0%AF', '%00', '%', '%zz', '%FF%FE', '%24gt', 'a%26b%3Dc'),
    ),
  ),
  fc.tuple(
    fc.constantFrom('email[$gt]', 'q[$ne]', 'tag[]', 'page[0]', '__proto__', 'constructor', 'prototype', '$where', ''),
    fc.constantFrom('', 'x', '1', '{"$gt":""}'),
  ),
  fc.tuple(fc.string({ maxLength: 8 }).map(encodeURIComponent), fc.string({ maxLength: 8 }).map(encodeURIComponent)),
);

/** A query string of pairs, each `key=value` (a pair with an empty value sometimes without `=`). */
export function queryString(pairs: readonly [string, string][]): string {
  if (pairs.length === 0) return '';
  return `?${pairs.map(([k, v]) => (v === '' && k.length % 2 === 1 ? k : `${k}=${v}`)).join('&')}`;
}

/** Pairs of a valid query object (strings), encoded; a key left undefined is not sent. */
export function queryPairs(query: Record<string, unknown>): [string, string][] {
  return Object.entries(query)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(String(v))]);
}

/** Raw REST bodies that are not the JSON object an endpoint reads. */
export const hostileRawBody: fc.Arbitrary<{ body: string; contentType: string }> = fc.oneof(
  fc
    .constantFrom('null', '[]', '"x"', '1', 'true', '{', '{"a":', '{"a":1,}', "{'a':1}", '', ' ', '\u0000')
    .map((body) => ({ body, contentType: 'application/json' })),
  fc.constantFrom('{"a":1}', 'a=1&b=2').map((body) => ({ body, contentType: 'text/plain' })),
  fc.constant({ body: 'a=1&__proto__[x]=1', contentType: 'application/x-www-form-urlencoded' }),
  fc.constant({ body: `{"a":"${'x'.repeat(70_000)}"}`, contentType: 'application/json' }),
  fc.constant({ body: `${'['.repeat(5000)}${']'.repeat(5000)}`, contentType: 'application/json' }),
);
