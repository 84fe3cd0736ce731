// Type imports only: the bench's seeding imports this file to store leads in the server's shape.
import type { Logger } from '../infra/logger';
import type { StoredAttributeValue } from '../properties/property-values';
import type { LeadDoc, LeadModel } from './lead-model';

/**
 * One entry of a lead's `propIndex`: a custom property's key and one of its values, typed as
 * stored (a number, a string, a date, a boolean). Always built as `{ k, v }` in that order: MongoDB
 * compares embedded documents field by field, so `{ v, k }` would be another value.
 */
export interface PropIndexEntry {
  k: string;
  v: Exclude<StoredAttributeValue, null | string[]>;
}

/**
 * The entries of one attribute: one for a scalar, one per option of a multiselect, none for null.
 * Exactly the values that `{ 'attributes.KEY': value }` matches, so the `propIndex` condition a
 * filter adds (lead-filter.ts) never loses a lead the attributes condition would find.
 */
export function propIndexEntries(key: string, value: StoredAttributeValue | undefined): PropIndexEntry[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) return [{ k: key, v: value }];
  const seen = new Set<string>();
  const entries: PropIndexEntry[] = [];
  for (const option of value) {
    if (seen.has(option)) continue;
    seen.add(option);
    entries.push({ k: key, v: option });
  }
  return entries;
}

/**
 * A lead's `propIndex`, derived from its attributes: the only place it is computed. Every write of
 * `attributes` keeps it true (see lead-model.ts): an extra entry costs a filter a residual check,
 * a missing one would hide the lead from property filters.
 */
export function propIndexOf(attributes: Record<string, StoredAttributeValue>): PropIndexEntry[] {
  return Object.entries(attributes).flatMap(([key, value]) => propIndexEntries(key, value));
}

/** Whether two `propIndex` lists hold the same entries in the same order (dates by time). */
export function samePropIndex(a: PropIndexEntry[] | undefined, b: PropIndexEntry[]): boolean {
  if (!a || a.length !== b.length) return false;
  return a.every((entry, i) => {
    const other = b[i] as PropIndexEntry;
    if (entry.k !== other.k) return false;
    if (entry.v instanceof Date || other.v instanceof Date)
      return entry.v instanceof Date && other.v instanceof Date && entry.v.getTime() === other.v.getTime();
    return entry.v === other.v;
  });
}

const BATCH = 500;
const ATTEMPTS = 3;

/**
 * Leads stored before `propIndex` existed get it once, at start, in the background: in `_id` order,
 * batch by batch, each computed from the attributes read and set only while the lead's `rev` is
 * still the one read and it still has none (every write of `attributes` moves `rev`; one that
 * changes a profile sets `propIndex` itself). A lead changed in between is read again. Every node
 * may run it at once; the writes are idempotent. Until it finishes, such leads are missing from
 * property filters only; one left over (changed on every attempt) is done at the next start.
 */
export async function backfillPropIndex(leads: LeadModel, logger: Logger): Promise<number> {
  type Legacy = Pick<LeadDoc, '_id' | 'attributes' | 'rev'>;
  const projection = { _id: 1, attributes: 1, rev: 1 };
  let done = 0;
  let after: string | undefined;
  for (;;) {
    const batch = await leads
      .find({ propIndex: { $exists: false }, ...(after === undefined ? {} : { _id: { $gt: after } }) }, projection)
      .sort({ _id: 1 })
      .limit(BATCH)
      .lean<Legacy[]>()
      .exec();
    for (const read of batch) {
      let lead: Legacy | null = read;
      for (let attempt = 0; lead && attempt < ATTEMPTS; attempt++) {
        const result = await leads
          .updateOne(
            // A lead stored without `rev` has none until its first change.
            { _id: lead._id, rev: lead.rev ?? null, propIndex: { $exists: false } },
            { $set: { propIndex: propIndexOf(lead.attributes ?? {}) } },
          )
          .exec();
        if (result.modifiedCount === 1) {
          done++;
          break;
        }
        lead = await leads
          .findOne({ _id: lead._id, propIndex: { $exists: false } }, projection)
          .lean<Legacy>()
          .exec();
      }
    }
    const last = batch[batch.length - 1];
    if (!last || batch.length < BATCH) break;
    after = last._id;
  }
  if (done > 0) logger.info({ leads: done }, 'property index backfilled');
  return done;
}
