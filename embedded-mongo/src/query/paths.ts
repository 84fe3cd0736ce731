import { DBRef } from 'bson';
import { dbRefDocument, getField, isPlainObject } from '../storage/values';

/** A path that leads nowhere in one branch of a document. */
export const MISSING: unique symbol = Symbol('missing');
export type Missing = typeof MISSING;

/**
 * What a dotted path reaches in a document, following MongoDB's rules: arrays met on the way are
 * traversed element by element (a numeric component also indexes the array), and a branch where
 * the path ends early yields MISSING. Query predicates also test the elements of a value that is
 * an array, one level deep, as MongoDB does; indexes key each of those elements.
 *
 * Queries and indexes both use this one function, so an index always holds every key a query on
 * the same path could match, and an index lookup never misses a document.
 */
const splitCache = new Map<string, string[]>();

export function splitPath(path: string): string[] {
  let parts = splitCache.get(path);
  if (!parts) {
    parts = path.split('.');
    if (splitCache.size > 10_000) splitCache.clear();
    splitCache.set(path, parts);
  }
  return parts;
}

function isIndex(part: string): boolean {
  if (part.length === 0 || part.length > 9) return false;
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function walk(value: unknown, parts: string[], i: number, out: unknown[]): void {
  if (i === parts.length) {
    out.push(value);
    return;
  }
  const part = parts[i] as string;
  if (Array.isArray(value)) {
    if (isIndex(part)) {
      const item = value[Number(part)] as unknown;
      if (item !== undefined) walk(item, parts, i + 1, out);
    }
    let anyDocument = false;
    for (const item of value) {
      if (isPlainObject(item) || item instanceof DBRef) {
        anyDocument = true;
        walk(item, parts, i, out);
      }
    }
    if (!anyDocument && !isIndex(part)) out.push(MISSING);
    return;
  }
  if (value instanceof DBRef) {
    walk(dbRefDocument(value), parts, i, out);
    return;
  }
  if (isPlainObject(value)) {
    const next = getField(value, part);
    if (next === undefined) out.push(MISSING);
    else walk(next, parts, i + 1, out);
    return;
  }
  out.push(MISSING);
}

/** The values (or MISSING) a path reaches; never empty. */
export function pathValues(doc: unknown, path: string): unknown[] {
  const out: unknown[] = [];
  walk(doc, splitPath(path), 0, out);
  if (out.length === 0) out.push(MISSING);
  return out;
}

/** The first value a path reaches without traversing arrays (for sort keys of `$push`, `_id`). */
export function getPath(doc: unknown, path: string): unknown {
  let current: unknown = doc;
  for (const part of splitPath(path)) {
    if (current instanceof DBRef) current = getField(dbRefDocument(current), part);
    else if (isPlainObject(current)) current = getField(current, part);
    else if (Array.isArray(current) && isIndex(part)) current = current[Number(part)] as unknown;
    else return undefined;
    if (current === undefined) return undefined;
  }
  return current;
}
