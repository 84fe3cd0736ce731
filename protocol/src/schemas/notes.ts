import { z } from 'zod';
import { LIMITS } from '../limits';
import { pageCursorSchema, queryInt } from './common';

/** Agents' notes on a lead (issue 15). */
const noteTextSchema = z.string().trim().min(1).max(LIMITS.noteTextMax);

export const leadNoteCreateSchema = z.strictObject({ text: noteTextSchema });

/** `version`: the version the editor read; a newer stored one is a `CONFLICT`. Without it, last write wins. */
export const leadNotePatchSchema = z.strictObject({
  text: noteTextSchema,
  version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
});

export const leadNoteListQuerySchema = z.strictObject({
  limit: queryInt(1, LIMITS.pageLimitMax).optional(),
  cursor: pageCursorSchema.optional(),
});

export const leadNoteSchema = z
  .strictObject({
    id: z.string(),
    projectId: z.string(),
    leadId: z.string(),
    authorId: z.string(),
    text: z.string(),
    version: z.number().int(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'LeadNote', description: "An agent's note on a contact; never shown to visitors." });

export const leadNoteResponseSchema = z.strictObject({ note: leadNoteSchema }).meta({ id: 'LeadNoteResponse' });
export const leadNotePageSchema = z
  .strictObject({ items: z.array(leadNoteSchema), nextCursor: z.string().nullable() })
  .meta({ id: 'LeadNotePage' });

export const leadNoteCreatedEventSchema = z.strictObject({ note: leadNoteSchema }).meta({ id: 'LeadNoteCreatedEvent' });
export const leadNoteUpdatedEventSchema = z.strictObject({ note: leadNoteSchema }).meta({ id: 'LeadNoteUpdatedEvent' });
export const leadNoteDeletedEventSchema = z
  .strictObject({ leadId: z.string(), noteId: z.string() })
  .meta({ id: 'LeadNoteDeletedEvent' });

export type LeadNoteCreateInput = z.input<typeof leadNoteCreateSchema>;
export type LeadNotePatchInput = z.input<typeof leadNotePatchSchema>;
export type LeadNoteListQuery = z.output<typeof leadNoteListQuerySchema>;
