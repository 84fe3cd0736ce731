import type { Document } from 'bson';
import { Query } from 'mingo/query';
import { badValue, notSupported } from '../errors';
import { cloneValue, getField, hasField, isPlainObject, setField } from '../storage/values';
import { asBadValue, prepareExpression } from './matcher';
import { mingoOptions } from './mingo-context';
import { checkComputedPath } from './prototype-names';
import { splitPath } from './paths';

export type Projector = (docs: Document[]) => Document[];

/**
 * A find projection, run by mingo after two corrections: nested specs (`{ a: { b: 1 } }`) are
 * flattened to dotted paths as MongoDB reads them, and a `$slice` in a projection that includes no
 * field keeps every other field (mingo would drop them).
 */
export function compileProjection(projection: unknown, filter: Document): Projector | undefined {
  if (projection === undefined || projection === null) return undefined;
  if (!isPlainObject(projection)) throw badValue('projection must be an object');
  const flat = flatten(projection);
  if (Object.keys(flat).length === 0) return undefined;
  const slices: [string, unknown][] = [];
  let includes = false;
  let positional = false;
  for (const [path, spec] of Object.entries(flat)) {
    if (path.endsWith('.$')) positional = includes = true;
    if (isPlainObject(spec) && '$meta' in spec) throw notSupported('the $meta projection');
    if (isPlainObject(spec) && Object.keys(spec).length === 1 && '$slice' in spec) slices.push([path, spec['$slice']]);
    else if (path !== '_id' && spec !== 0 && spec !== false) includes = true;
  }
  const condition = positional ? filter : {};
  if (includes) {
    const project = mingoProjector(condition, flat);
    const order = projectionOrder(flat);
    return (docs) => project(docs).map((out, i) => order(out, docs[i] as Document));
  }
  if (slices.length === 0) return excluder(flat) ?? mingoProjector(condition, flat);
  // Only exclusions and slices: MongoDB keeps every other field.
  const exclusions = Object.fromEntries(Object.entries(flat).filter(([path]) => !slices.some(([p]) => p === path)));
  const base =
    Object.keys(exclusions).length > 0
      ? (excluder(exclusions) ?? mingoProjector(condition, exclusions))
      : (docs: Document[]) => docs;
  const sliced = mingoProjector(condition, Object.fromEntries(slices.map(([path, spec]) => [path, { $slice: spec }])));
  return (docs) =>
    base(docs).map((doc, i) => {
      const slicedDoc = sliced([docs[i] as Document])[0] as Document;
      let out = doc;
      for (const [path] of slices) out = withSliced(out, slicedDoc, splitPath(path));
      return out;
    });
}

function flatten(projection: Record<string, unknown>, prefix = '', out: Document = {}): Document {
  for (const [key, spec] of Object.entries(projection)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isPlainObject(spec) && Object.keys(spec).length > 0 && !Object.keys(spec).some((k) => k.startsWith('$'))) {
      flatten(spec, path, out);
    } else {
      // mingo refuses `__proto__` in every path it reads, and writes computed fields by property access.
      if (
        path.split('.').includes('__proto__') ||
        !(spec === 0 || spec === 1 || typeof spec === 'boolean' || isSlice(spec))
      )
        checkComputedPath(path, 'a projection');
      setField(out, path, isPlainObject(spec) || typeof spec === 'string' ? prepareExpression(spec) : spec);
    }
  }
  return out;
}

/**
 * A projection of exclusions only, done here: copies without the excluded paths (in every
 * document of an array on the way, as in MongoDB). mingo's would drop fields it cannot name
 * (`__proto__`); undefined when the projection is not only exclusions.
 */
function excluder(projection: Document): Projector | undefined {
  const paths = Object.entries(projection).map(([path, spec]) =>
    spec === 0 || spec === false ? splitPath(path) : undefined,
  );
  if (paths.some((parts) => parts === undefined)) return undefined;
  const remove = (value: unknown, parts: string[], i: number): void => {
    if (Array.isArray(value)) {
      for (const element of value) remove(element, parts, i);
      return;
    }
    if (!isPlainObject(value)) return;
    const part = parts[i] as string;
    if (i === parts.length - 1) delete value[part];
    else remove(getField(value, part), parts, i + 1);
  };
  return (docs) =>
    docs.map((doc) => {
      const copy = cloneValue(doc);
      for (const parts of paths) remove(copy, parts as string[], 0);
      return copy;
    });
}

function mingoProjector(condition: Document, projection: Document): Projector {
  let query: Query;
  try {
    query = new Query(condition, mingoOptions());
  } catch (error) {
    throw asBadValue(error);
  }
  return (docs) => {
    try {
      // mingo's exclusions delete from nested objects in place: it only ever sees copies.
      return query.find(docs.map(cloneValue), projection).all() as Document[];
    } catch (error) {
      throw asBadValue(error);
    }
  };
}

/** `doc` with the value at `parts` taken from `sliced`, copying the objects on the way. */
function withSliced(doc: Document, sliced: Document, parts: string[]): Document {
  const [head, ...rest] = parts as [string, ...string[]];
  if (!hasField(doc, head)) return doc;
  const source = getField(sliced, head);
  if (rest.length === 0) return { ...doc, [head]: source };
  const inner = getField(doc, head);
  if (!isPlainObject(inner) || !isPlainObject(source)) return doc;
  return { ...doc, [head]: withSliced(inner, source, rest) };
}

/** What a projection does at each level: keep a field, compute it, or descend into it. */
type Shape = Map<string, Shape | 'keep' | 'compute'>;

function isSlice(spec: unknown): boolean {
  return isPlainObject(spec) && Object.keys(spec).length === 1 && hasField(spec, '$slice');
}

/** Whether a projection value keeps the field (1, true, a `$slice`, a positional path) rather than computing one. */
function keeps(spec: unknown): boolean {
  if (typeof spec === 'boolean') return spec;
  if (typeof spec === 'number') return spec !== 0;
  return isPlainObject(spec) && Object.keys(spec).length === 1 && '$slice' in spec;
}

/** Whether a projection (find's or `$project`'s) includes or computes fields, rather than only excluding some. */
export function isInclusion(projection: Document): boolean {
  return Object.entries(projection).some(([key, spec]) => {
    if (isPlainObject(spec) && !Object.keys(spec).some((k) => k.startsWith('$'))) return isInclusion(spec);
    return key !== '_id' ? spec !== 0 && spec !== false : !(spec === 0 || spec === false || keeps(spec));
  });
}

function shapeOf(projection: Document, shape: Shape = new Map()): Shape {
  for (const [key, spec] of Object.entries(projection)) {
    const parts = splitPath(key.endsWith('.$') ? key.slice(0, -2) : key);
    let level = shape;
    for (const part of parts.slice(0, -1)) {
      let next = level.get(part);
      if (!(next instanceof Map)) level.set(part, (next = new Map()));
      level = next;
    }
    const last = parts[parts.length - 1] as string;
    if (isPlainObject(spec) && Object.keys(spec).length > 0 && !Object.keys(spec).some((k) => k.startsWith('$'))) {
      const existing = level.get(last);
      level.set(last, shapeOf(spec, existing instanceof Map ? existing : new Map()));
    } else if (spec !== 0 && spec !== false) {
      level.set(last, keeps(spec) || key.endsWith('.$') ? 'keep' : 'compute');
    }
  }
  return shape;
}

/**
 * An inclusion projection's result in MongoDB's field order: the fields it keeps in the order
 * the input document has them (so `_id` stays first), then the computed ones in the projection's
 * order. mingo builds results in projection order with `_id` last.
 */
export function projectionOrder(projection: Document): (out: Document, input: Document) => Document {
  const shape = shapeOf(projection);
  return (out, input) => ordered(out, input, shape) as Document;
}

function ordered(out: unknown, input: unknown, shape: Shape): unknown {
  if (Array.isArray(out) && Array.isArray(input)) {
    // Documents in an array are projected one by one; other elements may have been dropped.
    const sources = input.filter(isPlainObject);
    const results = out.filter(isPlainObject);
    if (results.length !== out.length || sources.length !== results.length) return out;
    return results.map((element, i) => ordered(element, sources[i], shape));
  }
  if (!isPlainObject(out) || !isPlainObject(input)) return out;
  const result: Document = {};
  for (const key of Object.keys(input)) {
    const kind = shape.get(key);
    if (!hasField(out, key) || kind === 'compute') continue;
    setField(result, key, kind instanceof Map ? ordered(out[key], input[key], kind) : out[key]);
  }
  for (const key of shape.keys()) if (hasField(out, key) && !hasField(result, key)) setField(result, key, out[key]);
  for (const key of Object.keys(out)) if (!hasField(result, key)) setField(result, key, out[key]);
  return result;
}
