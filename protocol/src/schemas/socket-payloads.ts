/**
 * Schemas of what the server sends over Socket.IO: the payloads of pushes and the data of command
 * acks. They mirror the interfaces of `events.ts`, and `contract/socket-events.ts` does not compile
 * when one's output is not exactly the command map's type for its ack or push; they feed the
 * AsyncAPI document.
 */
import { z } from 'zod';
import {
  conversationSchema,
  conversationStatusOutSchema,
  errorBodySchema,
  leadSchema,
  messageSchema,
  senderSchema,
  visitorLeadViewSchema,
  webhookSchema,
} from './responses';

export const leadFieldSchema = z.enum([
  'fullname',
  'lastname',
  'email',
  'phone',
  'attributes',
  'tags',
  'conversationCount',
  'blocked',
]);

// ---- pushes ----

export const messageCreatedEventSchema = z.strictObject({ message: messageSchema }).meta({ id: 'MessageCreatedEvent' });
export const conversationCreatedEventSchema = z
  .strictObject({
    conversation: conversationSchema,
    lead: leadSchema.optional().meta({ description: 'Present on the agent namespace.' }),
  })
  .meta({ id: 'ConversationCreatedEvent' });
export const changeActorSchema = z
  .strictObject({
    type: z.enum(['agent', 'visitor', 'system']),
    id: z.string().optional(),
    name: z.string().optional(),
  })
  .meta({
    id: 'ChangeActor',
    description: 'Who made a change: an agent, the visitor, or the server (a snooze ending).',
  });
export const conversationChangeSchema = z
  .strictObject({
    by: changeActorSchema,
    previousStatus: conversationStatusOutSchema.optional(),
    reason: z.enum(['auto', 'manual', 'transfer', 'requeue']).optional(),
  })
  .meta({
    id: 'ConversationChange',
    description: '`previousStatus` when the status changed; `reason` when the assignee changed.',
  });
export const conversationUpdatedEventSchema = z
  .strictObject({ conversation: conversationSchema, change: conversationChangeSchema })
  .meta({ id: 'ConversationUpdatedEvent' });
export const messageReadEventSchema = z
  .strictObject({
    conversationId: z.string(),
    reader: senderSchema,
    seq: z.number().int().min(1),
    readAt: z.iso.datetime(),
    unreadCount: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: "On the reader's own sockets only: the reader's unread count after this read." }),
    lastSeq: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'With `unreadCount`: the last message it counts up to.' }),
  })
  .meta({ id: 'MessageReadEvent', description: 'Someone read a conversation up to `seq` (a read receipt).' });
export const typingEventSchema = z
  .strictObject({ conversationId: z.string(), sender: senderSchema, typing: z.boolean() })
  .meta({ id: 'TypingEvent' });
export const leadCreatedEventSchema = z.strictObject({ lead: leadSchema }).meta({ id: 'LeadCreatedEvent' });
export const leadUpdatedEventSchema = z
  .strictObject({ lead: leadSchema, changes: z.array(leadFieldSchema).min(1) })
  .meta({ id: 'LeadUpdatedEvent' });
export const leadMergedEventSchema = z
  .strictObject({ lead: leadSchema, mergedLeadIds: z.array(z.string()) })
  .meta({ id: 'LeadMergedEvent' });
export const leadDeletedEventSchema = z.strictObject({ leadId: z.string() }).meta({ id: 'LeadDeletedEvent' });
export const syncReloadEventSchema = z
  .strictObject({ reason: z.enum(['recovery_failed', 'stream_gap', 'node_lost', 'pushes_dropped']) })
  .meta({ id: 'SyncReloadEvent' });
export const webhookDisabledEventSchema = z
  .strictObject({ webhook: webhookSchema, reason: z.enum(['gone', 'failing']) })
  .meta({ id: 'WebhookDisabledEvent' });
export const sessionExpiringEventSchema = z
  .strictObject({ expiresAt: z.iso.datetime() })
  .meta({ id: 'SessionExpiringEvent' });

// ---- ack data of commands ----

export const conversationStartResultSchema = z
  .strictObject({ conversation: conversationSchema, message: messageSchema.optional() })
  .meta({ id: 'ConversationStartResult' });
export const messageSendResultSchema = z
  .strictObject({
    message: messageSchema,
    conversation: conversationSchema.optional().meta({
      description:
        "Present when the message started a new conversation, the one it was sent to being resolved (the project's `resolvedConversationReply` is `new`).",
    }),
  })
  .meta({ id: 'MessageSendResult' });
export const leadUpdateResultSchema = z.strictObject({ lead: visitorLeadViewSchema }).meta({ id: 'LeadUpdateResult' });
export const conversationListResultSchema = z
  .strictObject({ conversations: z.array(conversationSchema) })
  .meta({ id: 'ConversationListResult' });
export const conversationHistoryResultSchema = z
  .strictObject({ messages: z.array(messageSchema), hasMore: z.boolean() })
  .meta({ id: 'ConversationHistoryResult' });
export const conversationResultSchema = z
  .strictObject({ conversation: conversationSchema })
  .meta({ id: 'ConversationResult' });
export const conversationReadResultSchema = z
  .strictObject({
    conversationId: z.string(),
    seq: z.number().int().min(0).meta({ description: "The reader's read position now (never moves back)." }),
    unreadCount: z
      .number()
      .int()
      .min(0)
      .meta({ description: "The other side's messages after `seq`, up to `lastSeq`." }),
    lastSeq: z.number().int().min(0),
  })
  .meta({ id: 'ConversationReadResult' });
export const emptyResultSchema = z.strictObject({}).meta({ id: 'EmptyResult' });
export const sessionRenewResultSchema = z
  .strictObject({ expiresAt: z.iso.datetime() })
  .meta({ id: 'SessionRenewResult' });

/** Every ack: `{ ok: true, data }` or `{ ok: false, error }`. */
export function ackSchema<T extends z.ZodType>(data: T) {
  return z.discriminatedUnion('ok', [
    z.strictObject({ ok: z.literal(true), data }),
    z.strictObject({ ok: z.literal(false), error: errorBodySchema }),
  ]);
}
