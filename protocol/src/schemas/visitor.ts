import { z } from 'zod';
import { LIMITS } from '../limits';
import {
  attributesSchema,
  clientKeySchema,
  emailSchema,
  emptySchema,
  idSchema,
  messageTextSchema,
  nameSchema,
  phoneSchema,
  setsSomething,
  tokenSchema,
} from './common';

export const conversationStartSchema = z
  .strictObject({
    requestId: clientKeySchema.optional(),
    text: messageTextSchema.optional(),
    clientMessageId: clientKeySchema.optional(),
    attributes: attributesSchema.optional(),
  })
  .refine((v) => v.clientMessageId === undefined || v.text !== undefined, {
    message: 'clientMessageId needs a text',
    path: ['clientMessageId'],
  });

export const messageSendSchema = z.strictObject({
  conversationId: idSchema,
  clientMessageId: clientKeySchema,
  text: messageTextSchema,
});

/** The pre-chat form and any later profile edit by the visitor. */
export const leadUpdateSchema = z
  .strictObject({
    fullname: nameSchema.optional(),
    lastname: nameSchema.optional(),
    email: emailSchema.optional(),
    phone: phoneSchema.optional(),
    attributes: attributesSchema.optional(),
  })
  .refine(setsSomething, 'must set at least one field');

export const conversationListSchema = emptySchema;

export const conversationHistorySchema = z.strictObject({
  conversationId: idSchema,
  afterSeq: z.number().int().min(0).optional(),
  limit: z.number().int().min(1).max(LIMITS.historyLimitMax).optional(),
});

export const typingSchema = z.strictObject({
  conversationId: idSchema,
  typing: z.boolean(),
});

/** Extension: swap the socket's token for a renewed one without reconnecting. */
export const sessionRenewSchema = z.strictObject({ token: tokenSchema });

export type ConversationStartInput = z.input<typeof conversationStartSchema>;
export type MessageSendInput = z.input<typeof messageSendSchema>;
export type LeadUpdateInput = z.input<typeof leadUpdateSchema>;
export type ConversationListInput = z.input<typeof conversationListSchema>;
export type ConversationHistoryInput = z.input<typeof conversationHistorySchema>;
export type TypingInput = z.input<typeof typingSchema>;
export type SessionRenewInput = z.input<typeof sessionRenewSchema>;
