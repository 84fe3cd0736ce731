import { z } from 'zod';
import { LIMITS } from '../limits';
import { isTemplateField, templateFieldsOf } from '../templates';
import { idSchema, queryInt, textSchema } from './common';

/** What an agent types to find a response: lower-case letters, digits, `-` and `_`. */
export const shortCodeSchema = z
  .string()
  .trim()
  .toLowerCase()
  .min(1)
  .max(LIMITS.shortCodeMax)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be letters, digits, - and _ (starting with a letter or digit)');

/** A response's text: not empty, and only fields `renderTemplate` knows between `{{ }}`. */
export const cannedResponseTextSchema = textSchema(LIMITS.cannedResponseTextMax)
  .refine((s) => s.trim().length > 0, 'must not be empty')
  .superRefine((text, ctx) => {
    const unknown = templateFieldsOf(text).filter((name) => !isTemplateField(name));
    if (unknown.length > 0)
      ctx.addIssue({ code: 'custom', message: `has unknown fields: ${unknown.map((n) => `{{${n}}}`).join(', ')}` });
  });

export const cannedResponseCreateSchema = z.strictObject({
  shortCode: shortCodeSchema,
  text: cannedResponseTextSchema,
});

export const cannedResponsePatchSchema = z
  .strictObject({
    shortCode: shortCodeSchema.optional(),
    text: cannedResponseTextSchema.optional(),
  })
  .refine((v) => v.shortCode !== undefined || v.text !== undefined, 'must set at least one field');

/** `q`: a prefix of the short code (case-insensitive). */
export const cannedResponseListQuerySchema = z.strictObject({
  q: z.string().trim().toLowerCase().min(1).max(LIMITS.shortCodeMax).optional(),
  page: queryInt(1, 1_000_000).optional(),
  limit: queryInt(1, LIMITS.pageLimitMax).optional(),
});

/** Render a response for one conversation: its contact's and the calling agent's fields filled in. */
export const cannedResponseRenderSchema = z.strictObject({ conversationId: idSchema });

export type CannedResponseCreateInput = z.input<typeof cannedResponseCreateSchema>;
export type CannedResponsePatchInput = z.input<typeof cannedResponsePatchSchema>;
export type CannedResponseListQuery = z.output<typeof cannedResponseListQuerySchema>;
export type CannedResponseRenderInput = z.input<typeof cannedResponseRenderSchema>;
