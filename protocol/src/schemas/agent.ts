import { z } from 'zod';
import { idSchema } from './common';

export const conversationJoinSchema = z.strictObject({ conversationId: idSchema });
export const conversationCloseSchema = z.strictObject({ conversationId: idSchema });

export type ConversationJoinInput = z.input<typeof conversationJoinSchema>;
export type ConversationCloseInput = z.input<typeof conversationCloseSchema>;
