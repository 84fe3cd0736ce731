import { z } from 'zod';
import { LIMITS } from '../limits';
import { idSchema } from './common';

/**
 * The conversation workflow: statuses agents move conversations between, and read positions of
 * visitors and agents. Whether a snooze's `until` lies in the future is checked by the server (it
 * depends on its clock), not here.
 */
export const conversationResolveSchema = z.strictObject({ conversationId: idSchema });
export const conversationReopenSchema = z.strictObject({ conversationId: idSchema });
export const conversationPendSchema = z.strictObject({ conversationId: idSchema });
export const conversationSnoozeSchema = z.strictObject({
  conversationId: idSchema,
  /** ISO 8601 with a zone (`2030-01-01T09:00:00Z`, `…+02:00`): in the future, at most a year ahead. */
  until: z.iso.datetime({ offset: true }),
});

/** Read up to `seq` (only forward: an older `seq` changes nothing). */
export const conversationReadSchema = z.strictObject({
  conversationId: idSchema,
  seq: z.number().int().min(1).max(LIMITS.seqMax),
});

export type ConversationResolveInput = z.input<typeof conversationResolveSchema>;
export type ConversationReopenInput = z.input<typeof conversationReopenSchema>;
export type ConversationPendInput = z.input<typeof conversationPendSchema>;
export type ConversationSnoozeInput = z.input<typeof conversationSnoozeSchema>;
export type ConversationReadInput = z.input<typeof conversationReadSchema>;
