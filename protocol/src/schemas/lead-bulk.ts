import { z } from 'zod';
import { LIMITS } from '../limits';
import { attributeValueSchema, tagSchema } from './common';
import { leadFilterSchema } from './lead-filter';
import { propertyKeySchema } from './properties';

/**
 * A bulk action on every contact a filter matches (`POST …/leads/bulk`): tags added or removed, a
 * property set (null clears it), or the contacts erased. A filter or free text is required, so
 * that no request acts on a whole project by leaving them out.
 */
const bulkTagsSchema = z.array(tagSchema).min(1).max(20);

export const LEAD_BULK_ACTIONS = ['addTags', 'removeTags', 'setProperty', 'delete'] as const;

export const leadBulkActionSchema = z.union([
  z.strictObject({ type: z.literal('addTags'), tags: bulkTagsSchema }),
  z.strictObject({ type: z.literal('removeTags'), tags: bulkTagsSchema }),
  z.strictObject({ type: z.literal('setProperty'), key: propertyKeySchema, value: attributeValueSchema }),
  z.strictObject({ type: z.literal('delete') }),
]);

export const leadBulkSchema = z
  .strictObject({
    filter: leadFilterSchema.optional(),
    q: z.string().trim().min(1).max(LIMITS.searchQueryMax).optional(),
    action: leadBulkActionSchema,
  })
  .refine((v) => v.filter !== undefined || v.q !== undefined, 'must have a filter or q');

/** What a bulk action did: the response, and the `lead.bulk.completed` event (with `projectId` for webhooks). */
export const leadBulkCompletedEventSchema = z
  .strictObject({
    bulkId: z.string(),
    action: z.enum(LEAD_BULK_ACTIONS),
    /** Contacts the filter matched. */
    matched: z.number().int(),
    /** Contacts the action changed (a tag already there, or absent, changes nothing). */
    changed: z.number().int(),
    /** Contacts the action could not change (a contact at its tag limit; an erasure that failed). */
    failed: z.number().int(),
  })
  .meta({ id: 'LeadBulkCompletedEvent' });

export type LeadBulkInput = z.input<typeof leadBulkSchema>;
export type LeadBulkAction = z.output<typeof leadBulkActionSchema>;
export type LeadBulkCompletedEvent = z.output<typeof leadBulkCompletedEventSchema>;
