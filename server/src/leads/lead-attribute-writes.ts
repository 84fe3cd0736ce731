import type { QueryFilter } from 'mongoose';
import type { StoredAttributeValue } from '../properties/property-values';
import type { LeadDoc, LeadModel } from './lead-model';
import { propIndexEntries } from './lead-prop-index';

/** What else a write of one attribute changes on each lead, beside the value and its `propIndex` entries. */
export interface AttributeWriteExtras {
  $set?: Record<string, unknown>;
  $pull?: Record<string, unknown>;
  $push?: Record<string, unknown>;
  $inc?: Record<string, number>;
}

/**
 * Sets `attributes.KEY` to `value` on every lead `filter` selects, with one statement per group of
 * leads rather than one per lead (bulk actions, a property's type change), keeping `propIndex` true
 * without reading each lead. The entries of the new value are added in the same statement as the
 * value, and only then are the entries of the value it replaced pulled, by a second statement
 * limited to leads of `scope` that still hold the new value: a lead never lacks the entry of a value
 * it holds, it may only hold a stale one for a moment (which a filter's exact condition on the
 * attribute rejects). Returns how many leads changed.
 */
export async function setAttributeMany(
  leads: LeadModel,
  filter: QueryFilter<LeadDoc>,
  scope: QueryFilter<LeadDoc>,
  key: string,
  value: Exclude<StoredAttributeValue, null>,
  extras: AttributeWriteExtras = {},
): Promise<number> {
  const path = `attributes.${key}`;
  const entries = propIndexEntries(key, value);
  const update: Record<string, unknown> = { $set: { ...extras.$set, [path]: value } };
  if (extras.$pull) update['$pull'] = extras.$pull;
  if (extras.$push) update['$push'] = extras.$push;
  if (extras.$inc) update['$inc'] = extras.$inc;
  // Leads stored before `propIndex` existed are left without it for `backfillPropIndex`, which
  // computes it whole: adding one entry here would make a partial one that the backfill never
  // visits. First, so that a lead the backfill reaches meanwhile is written by the next statement.
  const legacy = await leads.updateMany({ $and: [filter, { propIndex: { $exists: false } }] }, update).exec();
  const current = await leads
    .updateMany(
      { $and: [filter, { propIndex: { $exists: true } }] },
      { ...update, $addToSet: { propIndex: { $each: entries } } },
    )
    .exec();
  // Another writer that changed the value since recomputed `propIndex` whole: such a lead no longer
  // holds `value` and is left alone. A scalar's pull skips a lead whose attribute is an array
  // holding it (a value stored untyped): that lead's other options would lose their entries.
  const stillHeld: QueryFilter<LeadDoc> = Array.isArray(value)
    ? { [path]: value }
    : { $and: [{ [path]: value }, { [path]: { $not: { $type: 'array' } } }] };
  await leads
    .updateMany(
      { $and: [scope, stillHeld, { propIndex: { $exists: true } }] },
      { $pull: { propIndex: { k: key, v: { $nin: entries.map((entry) => entry.v) } } } },
    )
    .exec();
  return legacy.modifiedCount + current.modifiedCount;
}
