import fc from 'fast-check';
import type { z } from 'zod';

/**
 * fast-check arbitraries of the inputs a zod v4 schema accepts, generated from the schema itself
 * (`schema._zod.def`), for the fuzz suite.
 *
 * Why our own: zod-fast-check, the usual bridge, supports zod 3 and fast-check 3 only (its zod 4
 * support is an unmerged pull request, which leaves out `z.custom` too); zod's JSON Schema output
 * loses refinements and transforms. This walks the kinds of schema `protocol/` uses: objects
 * (strict or not), optional, nullable, strings with length, regex and email format checks, numbers
 * with integer and range checks, booleans, null, enums, literals, arrays, records, unions, and
 * pipes (the email normalizer, the `__proto__` guard in front of attribute records, query-string
 * integers). A kind it does not know throws, so a new kind in the protocol is noticed here.
 *
 * Refinements (`.refine`, custom checks) cannot be inverted: values are drawn from the structure
 * and filtered through the schema itself where a refinement sits, so every value is accepted by the
 * schema. Strings are mostly short, with values at the length limit now and then.
 */

type Schema = z.core.$ZodType;
type Def = { type: string } & Record<string, unknown>;
interface CheckDef {
  check: string;
  minimum?: number;
  maximum?: number;
  value?: number;
  inclusive?: boolean;
  format?: string;
  pattern?: RegExp;
}

export interface ArbitraryOptions {
  /**
   * Arbitraries to use for an object's property of this name, wherever it sits (`conversationId`:
   * the ids the server knows). They need not satisfy the schema.
   */
  overrides?: Record<string, fc.Arbitrary<unknown>>;
}

const defOf = (schema: Schema): Def => schema._zod.def as unknown as Def;
const checksOf = (schema: Schema): CheckDef[] =>
  ((defOf(schema)['checks'] as Schema[] | undefined) ?? []).map((c) => c._zod.def as unknown as CheckDef);
const accepts = (schema: Schema) => (value: unknown) => (schema as z.ZodType).safeParse(value).success;

/** A schema with a check fast-check cannot build from structure (a refinement, a format). */
function refined(schema: Schema): boolean {
  return checksOf(schema).some((c) => c.check === 'custom' || c.check === 'overwrite');
}

/** Strings of every kind of character, now and then right at the length limit. */
function stringOf(min: number, max: number): fc.Arbitrary<string> {
  const cap = Math.min(max, 24);
  const unit = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('grapheme-ascii', 'grapheme') },
    { weight: 1, arbitrary: fc.constant('grapheme-composite') },
  );
  return fc.oneof(
    { weight: 8, arbitrary: unit.chain((u) => fc.string({ unit: u as 'grapheme', minLength: min, maxLength: cap })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('a', 'é', 'Z', '9', '-'), fc.integer({ min: Math.max(min, 1), max: Math.max(max, 1) }))
        .map(([c, n]) => c.repeat(Math.min(n, max))),
    },
    { weight: 1, arbitrary: fc.constant('x'.repeat(Math.max(min, Math.min(max, 20_000)))) },
  );
}

function stringArbitrary(schema: Schema): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  const checks = checksOf(schema);
  const min = Math.max(0, ...checks.filter((c) => c.check === 'min_length').map((c) => c.minimum ?? 0));
  const max = Math.min(100_000, ...checks.filter((c) => c.check === 'max_length').map((c) => c.maximum ?? Infinity));
  const regex = checks.find((c) => c.check === 'string_format' && c.pattern)?.pattern ?? (def['pattern'] as RegExp);
  let arbitrary: fc.Arbitrary<string>;
  if (def['format'] === 'email') arbitrary = emailArbitrary();
  else if (regex) arbitrary = fc.stringMatching(regex);
  else arbitrary = stringOf(min, max);
  // A refinement random text next to never meets (an IANA time zone): filtering would search
  // forever, so the schema's own examples are drawn instead.
  const examples = (schema as z.ZodType).meta()?.examples;
  if (refined(schema) && Array.isArray(examples) && examples.length > 0) return fc.constantFrom(...examples);
  if (regex || refined(schema) || def['format']) {
    // Regex matches ignore the length checks and refinements; the schema has the last word.
    return arbitrary.filter(accepts(schema));
  }
  return arbitrary;
}

/** Addresses zod's email pattern accepts, in mixed case and with spaces (the schema trims and lowers). */
function emailArbitrary(): fc.Arbitrary<string> {
  const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/);
  return fc
    .tuple(
      fc.stringMatching(/^[A-Za-z0-9_'+-]{1,20}$/),
      fc.array(label, { minLength: 1, maxLength: 3 }),
      fc.stringMatching(/^[a-z]{2,6}$/),
      fc.constantFrom('', ' ', '  '),
      fc.boolean(),
    )
    .map(([local, labels, tld, pad, upper]) => {
      const address = `${local}@${labels.join('.')}.${tld}`;
      return `${pad}${upper ? address.toUpperCase() : address}${pad}`;
    });
}

function numberArbitrary(schema: Schema): fc.Arbitrary<unknown> {
  const checks = checksOf(schema);
  const integer = checks.some((c) => c.check === 'number_format' && (c.format === 'safeint' || c.format === 'int32'));
  let min = -Number.MAX_SAFE_INTEGER;
  let max = Number.MAX_SAFE_INTEGER;
  for (const c of checks) {
    if (c.check === 'greater_than' && c.value !== undefined) min = c.inclusive ? c.value : c.value + (integer ? 1 : 0);
    if (c.check === 'less_than' && c.value !== undefined) max = c.inclusive ? c.value : c.value - (integer ? 1 : 0);
  }
  const arbitrary: fc.Arbitrary<number> = integer
    ? fc.oneof(
        fc.integer({ min, max }),
        fc.constantFrom(min, max),
        fc.integer({ min: Math.max(min, -1000), max: Math.min(max, 1000) }),
      )
    : fc.oneof(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -1000, max: 1000 }));
  return checks.length > 0 ? arbitrary.filter(accepts(schema)) : arbitrary;
}

function objectArbitrary(schema: Schema, options: ArbitraryOptions): fc.Arbitrary<unknown> {
  const shape = defOf(schema)['shape'] as Record<string, Schema>;
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  const requiredKeys: string[] = [];
  for (const [key, value] of Object.entries(shape)) {
    const override = options.overrides?.[key];
    parts[key] = override ?? inputArbitrary(value, options);
    if (defOf(value).type !== 'optional') requiredKeys.push(key);
  }
  const record = fc.record(parts, { requiredKeys }) as fc.Arbitrary<unknown>;
  // Object refinements (at least one field set, `clientMessageId` needs a text). Overridden
  // properties may hold what the schema refuses, so only the refinement is required to hold.
  if (!refined(schema)) return record;
  const overridden = Object.keys(options.overrides ?? {}).some((k) => k in shape);
  return record.filter(overridden ? refinementsHold(schema, shape) : accepts(schema));
}

/** The object's own refinements hold (its properties may be refused). */
function refinementsHold(schema: Schema, shape: Record<string, Schema>) {
  return (value: unknown): boolean => {
    const result = (schema as z.ZodType).safeParse(value);
    if (result.success) return true;
    return result.error.issues.every((issue) => typeof issue.path[0] === 'string' && issue.path[0] in shape);
  };
}

/**
 * An arbitrary of values `schema` accepts (except where `options.overrides` puts other values).
 * Values are inputs: for a query-string integer, a string of digits.
 */
export function inputArbitrary(schema: Schema, options: ArbitraryOptions = {}): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  switch (def.type) {
    case 'string':
      return stringArbitrary(schema);
    case 'number':
      return numberArbitrary(schema);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'literal':
      return fc.constantFrom(...(def['values'] as unknown[]));
    case 'enum':
      return fc.constantFrom(...Object.values(def['entries'] as Record<string, unknown>));
    case 'optional':
      return inputArbitrary(def['innerType'] as Schema, options);
    case 'nullable':
      return fc.oneof(
        { weight: 4, arbitrary: inputArbitrary(def['innerType'] as Schema, options) },
        { weight: 1, arbitrary: fc.constant(null) },
      );
    case 'object':
      return objectArbitrary(schema, options);
    case 'array': {
      const checks = checksOf(schema);
      const minLength = Math.max(0, ...checks.filter((c) => c.check === 'min_length').map((c) => c.minimum ?? 0));
      const maxLength = Math.min(...checks.filter((c) => c.check === 'max_length').map((c) => c.maximum ?? 1000), 1000);
      const element = inputArbitrary(def['element'] as Schema, options);
      // The protocol's array refinements ask for distinct items (team members, webhook events):
      // drawn distinct, since a long list drawn freely next to never is; the schema has the last word.
      const arrayOf = (constraints: { minLength: number; maxLength: number }) =>
        refined(schema)
          ? fc.uniqueArray(element, { ...constraints, selector: (v) => JSON.stringify(v) })
          : fc.array(element, constraints);
      const arbitrary = fc.oneof(
        { weight: 6, arbitrary: arrayOf({ minLength, maxLength: Math.min(maxLength, Math.max(minLength, 4)) }) },
        { weight: 1, arbitrary: arrayOf({ minLength: maxLength, maxLength }) },
      );
      return refined(schema) ? arbitrary.filter(accepts(schema)) : arbitrary;
    }
    case 'record': {
      const key = inputArbitrary(def['keyType'] as Schema, options) as fc.Arbitrary<string>;
      const value = inputArbitrary(def['valueType'] as Schema, options);
      const max = refined(schema) ? 50 : 1000;
      const arbitrary = fc.oneof(
        { weight: 6, arbitrary: fc.dictionary(key, value, { maxKeys: 5 }) },
        { weight: 1, arbitrary: fc.dictionary(key, value, { minKeys: max - 2, maxKeys: max }) },
      );
      return refined(schema) ? arbitrary.filter(accepts(schema)) : arbitrary;
    }
    case 'union':
      return fc.oneof(...(def['options'] as Schema[]).map((o) => inputArbitrary(o, options)));
    case 'pipe':
      return pipeArbitrary(schema, options);
    default:
      throw new Error(`zod-arbitrary: no generator for zod kind "${def.type}"`);
  }
}

/**
 * A pipe is drawn from the side that can be built, then kept when the whole pipe accepts it:
 * - `custom` in front (the `__proto__` guard of attribute records): from the output schema;
 * - a plain string in front of a format (the email normalizer): from the output schema;
 * - a string turned into a number (query-string integers): integers of the output's range, as text;
 * - anything else: from the input schema.
 */
function pipeArbitrary(schema: Schema, options: ArbitraryOptions): fc.Arbitrary<unknown> {
  // Text parsed into a refined shape (an import's column mapping, JSON in the query string): random
  // text next to never parses into one, so the schema's own examples are drawn instead.
  const examples = (schema as z.ZodType).meta()?.examples;
  if (Array.isArray(examples) && examples.length > 0) return fc.constantFrom(...examples);
  const def = defOf(schema);
  const inner = def['in'] as Schema;
  const outer = def['out'] as Schema;
  const innerDef = defOf(inner);
  const outerDef = defOf(outer);
  let arbitrary: fc.Arbitrary<unknown>;
  if (innerDef.type === 'custom') arbitrary = inputArbitrary(outer, options);
  else if (innerDef.type === 'string' && outerDef.type === 'string' && outerDef['format'])
    arbitrary = inputArbitrary(outer, options);
  else if (
    innerDef.type === 'pipe' &&
    defOf(innerDef['out'] as Schema).type === 'transform' &&
    outerDef.type === 'number'
  )
    arbitrary = (numberArbitrary(outer) as fc.Arbitrary<number>).map(String);
  else arbitrary = inputArbitrary(inner, options);
  return arbitrary.filter(accepts(schema));
}
