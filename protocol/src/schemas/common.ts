import { z } from 'zod';
import { LIMITS } from '../limits';

// Control characters have no business in names or keys and break logs and CSV exports.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Keys that would reach an object's prototype if copied naively. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

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
  .refine((s) => !CONTROL_CHARS.test(s), 'must not contain control characters');

export const phoneSchema = z
  .string()
  .trim()
  .min(1)
  .max(LIMITS.phoneMax)
  .regex(/^\+?[0-9 ().-]+$/, 'must be a phone number');

export const attributeKeySchema = z
  .string()
  .min(1)
  .max(LIMITS.attributeKeyMax)
  .refine((k) => !k.startsWith('$'), 'must not start with $')
  .refine((k) => !k.includes('.'), 'must not contain a dot')
  .refine((k) => !CONTROL_CHARS.test(k), 'must not contain control characters')
  .refine((k) => !FORBIDDEN_KEYS.has(k), 'is a reserved name');

export const attributeValueSchema = z.union([
  z.string().max(LIMITS.attributeValueMax),
  z.number().refine(Number.isFinite, 'must be a finite number'),
  z.boolean(),
  z.null(),
]);

/** Custom attributes; a `null` value removes the key where attributes are merged. */
export const attributesSchema = z
  .record(attributeKeySchema, attributeValueSchema)
  .refine((a) => Object.keys(a).length <= LIMITS.attributesMax, {
    message: `must have at most ${LIMITS.attributesMax} keys`,
  });

export const tagSchema = z
  .string()
  .trim()
  .toLowerCase()
  .min(1)
  .max(LIMITS.tagMax)
  .refine((s) => !CONTROL_CHARS.test(s), 'must not contain control characters');

export const tagsSchema = z.array(tagSchema).max(LIMITS.tagsMax);

/**
 * Message text. Only the hard cap lives here; the server applies its configured (lower) limit and
 * answers `PAYLOAD_TOO_LARGE` for both.
 */
export const messageTextSchema = z
  .string()
  .max(LIMITS.messageTextHardMax)
  .refine((s) => s.trim().length > 0, 'must not be empty');

export const tokenSchema = z.string().min(1).max(LIMITS.tokenMax);

/** A non-negative integer given as a query-string value. */
export function queryInt(min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

export const emptySchema = z.strictObject({});
