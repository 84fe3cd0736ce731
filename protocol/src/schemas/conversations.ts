import { z } from 'zod';
import { LIMITS } from '../limits';
import { idSchema, queryBool, queryInt } from './common';

/** Only the statuses of this version: protocol 1.0's `assigned` and `closed` are refused. */
export const conversationStatusSchema = z.enum(['open', 'pending', 'snoozed', 'resolved']);

/**
 * The agents' inbox. `assignee`: `me` (the calling agent), `none` (unassigned) or an agent id;
 * `teamId`: a team's id or `none`; `sort`: `lastActivity` (the latest message or change first, the
 * default) or `oldest` (the longest waiting first).
 */
export const conversationListQuerySchema = z.strictObject({
  leadId: idSchema.optional(),
  status: conversationStatusSchema.optional(),
  assignee: idSchema.optional(),
  teamId: idSchema.optional(),
  /** `true`: only conversations started while nobody could answer (to answer those first). */
  offline: queryBool().optional(),
  sort: z.enum(['lastActivity', 'oldest']).optional(),
  page: queryInt(1, 1_000_000).optional(),
  limit: queryInt(1, LIMITS.pageLimitMax).optional(),
});

export const messageListQuerySchema = z.strictObject({
  afterSeq: queryInt(0, 1_000_000_000).optional(),
  limit: queryInt(1, LIMITS.historyLimitMax).optional(),
});

export type ConversationListQuery = z.output<typeof conversationListQuerySchema>;
export type MessageListQuery = z.output<typeof messageListQuerySchema>;
