import type { AttributeValue, PropertyType } from '@parley/protocol';

/**
 * What a lead's `attributes` hold in the database: the wire's scalars, plus a `Date` for a `date`
 * property (so that ranges compare as dates) and an array of options for a `multiselect` (so that
 * `in` and `contains` use MongoDB's array matching and a multikey index).
 */
export type StoredAttributeValue = AttributeValue | Date | string[];

/** The definition's parts that typing a value needs. */
export interface ValueType {
  type: PropertyType;
  options?: string[];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** A value typed for storage, or the reason it is not one of this type. */
export type Typed = { ok: true; value: Exclude<StoredAttributeValue, null> } | { ok: false; message: string };

const fail = (message: string): Typed => ({ ok: false, message });

/**
 * Types a wire value (never null: null removes the key). Strings are accepted for every type so
 * that a pre-chat form or a CSV, which only have text, can fill any property.
 */
export function typeValue(def: ValueType, value: Exclude<AttributeValue, null>): Typed {
  switch (def.type) {
    case 'text':
      return typeof value === 'string' ? { ok: true, value } : fail('must be text');
    case 'number': {
      if (typeof value === 'number') return Number.isFinite(value) ? { ok: true, value } : fail('must be a number');
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        return { ok: true, value: Number(value) };
      return fail('must be a number');
    }
    case 'boolean':
      if (typeof value === 'boolean') return { ok: true, value };
      if (value === 'true' || value === 'false') return { ok: true, value: value === 'true' };
      return fail('must be true or false');
    case 'date': {
      if (typeof value !== 'string' || !ISO_DATE.test(value)) return fail('must be an ISO 8601 date');
      const date = new Date(value);
      return Number.isNaN(date.getTime()) ? fail('must be an ISO 8601 date') : { ok: true, value: date };
    }
    case 'email':
      return typeof value === 'string' && EMAIL.test(value.trim())
        ? { ok: true, value: value.trim().toLowerCase() }
        : fail('must be an email address');
    case 'url': {
      if (typeof value !== 'string') return fail('must be an http(s) URL');
      try {
        const url = new URL(value.trim());
        return url.protocol === 'http:' || url.protocol === 'https:'
          ? { ok: true, value: value.trim() }
          : fail('must be an http(s) URL');
      } catch {
        return fail('must be an http(s) URL');
      }
    }
    case 'select':
      return typeof value === 'string' && (def.options ?? []).includes(value)
        ? { ok: true, value }
        : fail(`must be one of: ${(def.options ?? []).join(', ')}`);
    case 'multiselect': {
      if (typeof value !== 'string') return fail('must be options separated by ;');
      const picked = [
        ...new Set(
          value
            .split(';')
            .map((s) => s.trim())
            .filter((s) => s !== ''),
        ),
      ];
      const unknown = picked.filter((s) => !(def.options ?? []).includes(s));
      return unknown.length > 0 ? fail(`has unknown options: ${unknown.join(', ')}`) : { ok: true, value: picked };
    }
  }
  return fail('has an unknown type');
}

/** A stored value as the wire carries it: a date as ISO 8601, a multiselect joined by `;`. */
export function toWireValue(value: StoredAttributeValue): AttributeValue {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.join(';');
  return value;
}

export function toWireAttributes(attributes: Record<string, StoredAttributeValue>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(attributes)) out[key] = toWireValue(value);
  return out;
}

/** Equality of stored values: dates by time, multiselects by their options in order. */
export function sameStoredValue(a: StoredAttributeValue | undefined, b: StoredAttributeValue | undefined): boolean {
  if (a instanceof Date || b instanceof Date)
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a) || Array.isArray(b))
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

/** A stored value retyped for another definition (a type change), through its wire form. */
export function retype(def: ValueType, value: StoredAttributeValue): Typed {
  const wire = toWireValue(value);
  if (wire === null) return fail('is empty');
  // A number or a boolean becomes text as written; text becomes a number only if it is one.
  if (
    def.type === 'text' ||
    def.type === 'select' ||
    def.type === 'multiselect' ||
    def.type === 'email' ||
    def.type === 'url'
  )
    return typeValue(def, String(wire));
  return typeValue(def, wire);
}
