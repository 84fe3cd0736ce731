import { z } from 'zod';
import { LIMITS } from '../limits';
import { idSchema, queryInt } from './common';

export const conversationListQuerySchema = z.strictObject({
  leadId: idSchema.optional(),
  status: z.enum(['open', 'assigned', 'closed']).optional(),
  page: queryInt(1, 1_000_000).optional(),
  limit: queryInt(1, LIMITS.pageLimitMax).optional(),
});

export const messageListQuerySchema = z.strictObject({
  afterSeq: queryInt(0, 1_000_000_000).optional(),
  limit: queryInt(1, LIMITS.historyLimitMax).optional(),
});

export type ConversationListQuery = z.output<typeof conversationListQuerySchema>;
export type MessageListQuery = z.output<typeof messageListQuerySchema>;
