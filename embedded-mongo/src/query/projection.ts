import type { Document } from 'bson';
import { Query } from 'mingo/query';
import { badValue, notSupported } from '../errors';
import { cloneValue, isPlainObject } from '../storage/values';
import { asBadValue, prepareExpression } from './matcher';
import { mingoOptions } from './mingo-context';
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
  if (slices.length === 0) return mingoProjector(condition, flat);
  // Only exclusions and slices: MongoDB keeps every other field.
  const exclusions = Object.fromEntries(Object.entries(flat).filter(([path]) => !slices.some(([p]) => p === path)));
  const base = Object.keys(exclusions).length > 0 ? mingoProjector(condition, exclusions) : (docs: Document[]) => docs;
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
      out[path] = isPlainObject(spec) || typeof spec === 'string' ? prepareExpression(spec) : spec;
    }
  }
  return out;
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
  if (!(head in doc)) return doc;
  const source = sliced[head];
  if (rest.length === 0) return { ...doc, [head]: source };
  const inner = doc[head];
  if (!isPlainObject(inner) || !isPlainObject(source)) return doc;
  return { ...doc, [head]: withSliced(inner, source, rest) };
}

/** What a projection does at each level: keep a field, compute it, or descend into it. */
type Shape = Map<string, Shape | 'keep' | 'compute'>;

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
    if (!(key in out) || kind === 'compute') continue;
    result[key] = kind instanceof Map ? ordered(out[key], input[key], kind) : out[key];
  }
  for (const key of shape.keys()) if (key in out && !(key in result)) result[key] = out[key];
  for (const key of Object.keys(out)) if (!(key in result)) result[key] = out[key];
  return result;
}
