import type { QueryFilter } from 'mongoose';
import type { LeadFilterNode, LeadSearchInput, LeadSearchResponse } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { AppError } from '../errors';
import type { PropertyCatalog, PropertyService } from '../properties/property-service';
import { compileFilter, fieldSpec, freeTextFilter } from './lead-filter';
import type { LeadDoc, LeadModel } from './lead-model';
import { toLead } from './lead-view';

/** Counted exactly up to this; past it a search reports `total: 10000, totalCapped: true`. */
export const TOTAL_CAP = 10_000;

/** What selects leads: a filter tree and free text, both optional. */
export interface LeadSelection {
  filter?: LeadFilterNode | undefined;
  q?: string | undefined;
}

type CursorValue =
  { t: 'd'; v: string } | { t: 'n'; v: number } | { t: 's'; v: string } | { t: 'b'; v: boolean } | { t: 'z' };

interface Cursor {
  /** The sort it was made for: a cursor of another sort is refused. */
  s: string;
  o: 'asc' | 'desc';
  k: CursorValue;
  id: string;
}

const badCursor = () =>
  new AppError('BAD_REQUEST', 'Invalid cursor', {
    fields: [{ field: 'cursor', message: 'is not a cursor of this search' }],
  });

function encodeValue(value: unknown): CursorValue {
  if (value instanceof Date) return { t: 'd', v: value.toISOString() };
  if (typeof value === 'number') return { t: 'n', v: value };
  if (typeof value === 'string') return { t: 's', v: value };
  if (typeof value === 'boolean') return { t: 'b', v: value };
  return { t: 'z' };
}

function decodeValue(k: CursorValue): unknown {
  switch (k.t) {
    case 'd':
      return new Date(k.v);
    case 'z':
      return null;
    default:
      return k.v;
  }
}

function decodeCursor(text: string, field: string, order: 'asc' | 'desc'): Cursor {
  let cursor: Cursor;
  try {
    cursor = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
  } catch {
    throw badCursor();
  }
  const k = cursor?.k as CursorValue | undefined;
  const validValue =
    typeof k === 'object' &&
    k !== null &&
    ((k.t === 'd' && typeof k.v === 'string' && !Number.isNaN(new Date(k.v).getTime())) ||
      (k.t === 'n' && typeof k.v === 'number') ||
      (k.t === 's' && typeof k.v === 'string') ||
      (k.t === 'b' && typeof k.v === 'boolean') ||
      k.t === 'z');
  if (!validValue || cursor.s !== field || cursor.o !== order || typeof cursor.id !== 'string') throw badCursor();
  return cursor;
}

function valueAtPath(doc: LeadDoc, path: string): unknown {
  let current: unknown = doc;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/**
 * Keyset paging: the page after (value, _id) in the sort's order. Missing values sort lowest in
 * MongoDB (first ascending, last descending), which the conditions follow; a lead inserted or
 * changed while a client pages never makes another repeat or go missing.
 */
function after(path: string, order: 'asc' | 'desc', value: unknown, id: string): QueryFilter<LeadDoc> {
  if (value === null || value === undefined) {
    return order === 'asc'
      ? { $or: [{ [path]: null, _id: { $gt: id } }, { [path]: { $ne: null } }] }
      : { [path]: null, _id: { $lt: id } };
  }
  return order === 'asc'
    ? { $or: [{ [path]: { $gt: value } }, { [path]: value, _id: { $gt: id } }] }
    : { $or: [{ [path]: { $lt: value } }, { [path]: value, _id: { $lt: id } }, { [path]: null }] };
}

/**
 * Contacts by filter tree: the search endpoint, the CSV export, bulk actions and segments all
 * select leads through `query`, so that they agree on what a filter matches.
 */
export class LeadFilterSearch {
  constructor(
    private readonly leads: LeadModel,
    private readonly properties: PropertyService,
  ) {}

  /** The query of a selection, checked against the project's fields (BAD_REQUEST naming the condition). */
  async query(projectId: string, selection: LeadSelection, catalog?: PropertyCatalog): Promise<QueryFilter<LeadDoc>> {
    const parts: QueryFilter<LeadDoc>[] = [{ projectId, mergedInto: { $exists: false } }];
    if (selection.filter) {
      const known = catalog ?? (await this.properties.catalog(projectId));
      parts.push(compileFilter(known, selection.filter));
    }
    if (selection.q) parts.push(freeTextFilter(selection.q));
    return parts.length === 1 ? parts[0]! : { $and: parts };
  }

  async search(projectId: string, input: LeadSearchInput): Promise<LeadSearchResponse> {
    const catalog = await this.properties.catalog(projectId);
    const field = input.sort?.field ?? 'createdAt';
    const order = input.sort?.order ?? 'desc';
    const spec = fieldSpec(catalog, field);
    if (!spec || !spec.sortable)
      throw new AppError('BAD_REQUEST', `Invalid sort: ${field} is not a sortable field`, {
        fields: [{ field: 'sort.field', message: `"${field}" is not a sortable field` }],
      });
    const limit = input.limit ?? LIMITS.pageLimitDefault;
    const base = await this.query(
      projectId,
      { filter: input.filter as LeadFilterNode | undefined, q: input.q },
      catalog,
    );
    const page = input.cursor
      ? (() => {
          const cursor = decodeCursor(input.cursor, field, order);
          return { $and: [base, after(spec.path, order, decodeValue(cursor.k), cursor.id)] };
        })()
      : base;
    const direction = order === 'asc' ? 1 : -1;
    const [docs, counted] = await Promise.all([
      this.leads
        .find(page)
        .sort({ [spec.path]: direction, _id: direction })
        .limit(limit + 1)
        .lean<LeadDoc[]>()
        .exec(),
      this.leads.countDocuments(base, { limit: TOTAL_CAP + 1 }).exec(),
    ]);
    const items = docs.slice(0, limit);
    const response: LeadSearchResponse = {
      items: items.map(toLead),
      total: Math.min(counted, TOTAL_CAP),
      totalCapped: counted > TOTAL_CAP,
    };
    const last = items[items.length - 1];
    if (docs.length > limit && last) {
      const cursor: Cursor = { s: field, o: order, k: encodeValue(valueAtPath(last, spec.path)), id: last._id };
      response.nextCursor = Buffer.from(JSON.stringify(cursor)).toString('base64url');
    }
    return response;
  }

  /** Every match, oldest first, for the CSV export (streamed, nothing buffered). */
  cursor(query: QueryFilter<LeadDoc>) {
    return this.leads.find(query).sort({ createdAt: 1, _id: 1 }).lean<LeadDoc[]>().cursor({ batchSize: 500 });
  }
}
