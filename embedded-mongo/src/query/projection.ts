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
  if (includes || slices.length === 0) return mingoProjector(condition, flat);
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
