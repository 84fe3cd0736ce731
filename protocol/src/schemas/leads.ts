import { z } from 'zod';
import { LIMITS } from '../limits';
import {
  attributesSchema,
  emailSchema,
  idSchema,
  nameSchema,
  phoneSchema,
  queryInt,
  setsSomething,
  tagSchema,
  tagsSchema,
} from './common';

export const leadCreateSchema = z.strictObject({
  fullname: nameSchema.optional(),
  lastname: nameSchema.optional(),
  email: emailSchema.optional(),
  phone: phoneSchema.optional(),
  attributes: attributesSchema.optional(),
  tags: tagsSchema.optional(),
});

/** `null` clears a field; in `attributes`, `null` removes that key and other keys are kept. */
export const leadPatchSchema = z
  .strictObject({
    fullname: nameSchema.nullable().optional(),
    lastname: nameSchema.nullable().optional(),
    email: emailSchema.nullable().optional(),
    phone: phoneSchema.nullable().optional(),
    attributes: attributesSchema.optional(),
    tags: tagsSchema.optional(),
  })
  .refine(setsSomething, 'must set at least one field');

export const leadMergeSchema = z.strictObject({
  sourceLeadIds: z.array(idSchema).min(1).max(LIMITS.mergeSourcesMax),
});

/** Query string of the leads list and of the CSV export. */
export const leadListQuerySchema = z.strictObject({
  email: z.string().trim().toLowerCase().min(1).max(LIMITS.emailMax).optional(),
  q: z.string().trim().min(1).max(LIMITS.searchQueryMax).optional(),
  tag: tagSchema.optional(),
  page: queryInt(1, 1_000_000).optional(),
  limit: queryInt(1, LIMITS.pageLimitMax).optional(),
});

/** The CSV export takes the list's filters; it has no pages (it streams every match). */
export const leadExportQuerySchema = leadListQuerySchema.omit({ page: true, limit: true });

export type LeadCreateInput = z.input<typeof leadCreateSchema>;
export type LeadPatchInput = z.input<typeof leadPatchSchema>;
export type LeadMergeInput = z.input<typeof leadMergeSchema>;
export type LeadListQuery = z.output<typeof leadListQuerySchema>;
