import { z } from 'zod';
import { LIMITS } from '../limits';

// Control characters have no business in names or keys and break logs and CSV exports.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Keys that would reach an object's prototype if copied naively. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A lone UTF-16 surrogate cannot be stored: MongoDB (BSON is UTF-8) turns it into U+FFFD, so the
 * stored text would differ from what was acknowledged and every resubmission would look changed.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
function wellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}
const NOT_WELL_FORMED = 'must be valid Unicode text (no lone surrogates)';

/** Text of any kind: well-formed Unicode up to `max` characters. */
export function textSchema(max: number) {
  return z.string().max(max).refine(wellFormed, NOT_WELL_FORMED);
}

export const idSchema = z
  .string()
  .min(1)
  .max(LIMITS.idMax)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be an id');

/** Client-made idempotency keys (`requestId`, `clientMessageId`). */
export const clientKeySchema = z
  .string()
  .min(1)
  .max(LIMITS.clientKeyMax)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(LIMITS.emailMax)
  .pipe(z.email('must be an email address'));

export const nameSchema = z
  .string()
  .trim()
  .min(1)
  .max(LIMITS.nameMax)
  .refine((s) => !CONTROL_CHARS.test(s), 'must not contain control characters')
  .refine(wellFormed, NOT_WELL_FORMED);

export const phoneSchema = z
  .string()
  .trim()
  .min(1)
  .max(LIMITS.phoneMax)
  .regex(/^\+?[0-9 ().-]+$/, 'must be a phone number')
  .refine((s) => (s.match(/[0-9]/g)?.length ?? 0) >= 3, 'must be a phone number');

export const attributeKeySchema = z
  .string()
  .min(1)
  .max(LIMITS.attributeKeyMax)
  .refine((k) => !k.startsWith('$'), 'must not start with $')
  .refine((k) => !k.includes('.'), 'must not contain a dot')
  .refine((k) => !CONTROL_CHARS.test(k), 'must not contain control characters')
  .refine(wellFormed, NOT_WELL_FORMED)
  .refine((k) => !FORBIDDEN_KEYS.has(k), 'is a reserved name');

export const attributeValueSchema = z.union([
  textSchema(LIMITS.attributeValueMax),
  z.number().refine(Number.isFinite, 'must be a finite number'),
  z.boolean(),
  z.null(),
]);

/**
 * An object parsed from JSON may carry `__proto__` as an own key; zod's record would drop it
 * silently (assigning it sets the prototype), so it is refused before the record is parsed.
 */
const noProtoKey = z.custom<unknown>(
  (value) => !(typeof value === 'object' && value !== null && Object.prototype.hasOwnProperty.call(value, '__proto__')),
  { message: 'must not have the reserved key __proto__' },
);

const attributeRecordSchema = z
  .record(attributeKeySchema, attributeValueSchema)
  .refine((a) => Object.keys(a).length <= LIMITS.attributesMax, {
    message: `must have at most ${LIMITS.attributesMax} keys`,
  });

/**
 * Attribute maps: at most `attributesMax` keys; a `null` value removes the key where attributes
 * are merged. Typed as the record (the `__proto__` guard in front only refuses more), so that the
 * SDK and the server see `Record<string, AttributeValue>` rather than `unknown` as the input.
 */
export const attributesSchema = noProtoKey.pipe(attributeRecordSchema) as unknown as typeof attributeRecordSchema;

export const tagSchema = z
  .string()
  .trim()
  .toLowerCase()
  .min(1)
  .max(LIMITS.tagMax)
  .refine((s) => !CONTROL_CHARS.test(s), 'must not contain control characters')
  .refine(wellFormed, NOT_WELL_FORMED);

export const tagsSchema = z.array(tagSchema).max(LIMITS.tagsMax);

/**
 * Message text. Only the hard cap lives here; the server applies its configured (lower) limit and
 * answers `PAYLOAD_TOO_LARGE` for both.
 */
export const messageTextSchema = textSchema(LIMITS.messageTextHardMax).refine(
  (s) => s.trim().length > 0,
  'must not be empty',
);

/** True when an input sets something: an empty `attributes` object sets nothing. */
export function setsSomething(input: Record<string, unknown>): boolean {
  return Object.values(input).some(
    (value) =>
      value !== undefined &&
      !(typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0),
  );
}

export const tokenSchema = z.string().min(1).max(LIMITS.tokenMax);

/** A non-negative integer given as a query-string value. */
/** A query-string flag: `true` or `false`, nothing else. */
export function queryBool() {
  return z.enum(['true', 'false']).transform((v) => v === 'true');
}

export function queryInt(min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

export const emptySchema = z.strictObject({});

/** The `cursor` of a keyset-paged listing: the opaque `nextCursor` of the page before. */
export const pageCursorSchema = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor from a previous page');
