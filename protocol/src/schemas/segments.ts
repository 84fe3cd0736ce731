import { z } from 'zod';
import { LIMITS } from '../limits';
import { queryInt, textSchema } from './common';
import { leadFilterSchema } from './lead-filter';

/** Saved, named contact filters of a project; listing one runs its filter with the search's paging. */
const segmentNameSchema = textSchema(100).refine((s) => s.trim().length > 0, 'must not be empty');
const freeTextSchema = z.string().trim().min(1).max(LIMITS.searchQueryMax);

export const segmentCreateSchema = z.strictObject({
  name: segmentNameSchema,
  filter: leadFilterSchema,
  q: freeTextSchema.optional(),
});

export const segmentPatchSchema = z
  .strictObject({
    name: segmentNameSchema.optional(),
    filter: leadFilterSchema.optional(),
    q: freeTextSchema.nullable().optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'must set at least one field');

/** Paging of a segment's leads: the search's sort and cursor, in the query string. */
export const segmentLeadsQuerySchema = z.strictObject({
  sort: z.string().min(1).max(100).optional(),
  order: z.enum(['asc', 'desc']).optional(),
  limit: queryInt(1, LIMITS.pageLimitMax).optional(),
  cursor: z.string().min(1).max(2000).optional(),
});

const timeSchema = z.iso.datetime();

export const segmentSchema = z
  .strictObject({
    id: z.string(),
    projectId: z.string(),
    name: z.string(),
    filter: leadFilterSchema,
    q: z.string().optional(),
    createdAt: timeSchema,
    updatedAt: timeSchema,
  })
  .meta({ id: 'Segment', description: 'A saved, named contact filter.' });

export const segmentListResponseSchema = z.strictObject({ items: z.array(segmentSchema) }).meta({ id: 'SegmentList' });

export type SegmentCreateInput = z.input<typeof segmentCreateSchema>;
export type SegmentPatchInput = z.input<typeof segmentPatchSchema>;
export type SegmentLeadsQuery = z.output<typeof segmentLeadsQuerySchema>;
export type Segment = z.output<typeof segmentSchema>;
export type SegmentListResponse = z.output<typeof segmentListResponseSchema>;
