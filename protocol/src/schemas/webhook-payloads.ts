/**
 * Schemas of what a webhook receiver gets: the body of each delivery, per event type. They feed
 * the OpenAPI document's `webhooks` section, and `test/schema-types.test.ts` keeps their union
 * equal to `WebhookPayload`.
 */
import { z } from 'zod';
import { WEBHOOK_TEST_EVENT } from '../webhooks';
import {
  conversationCreatedEventSchema,
  conversationUpdatedEventSchema,
  leadCreatedEventSchema,
  leadDeletedEventSchema,
  leadMergedEventSchema,
  leadUpdatedEventSchema,
  messageCreatedEventSchema,
} from './socket-payloads';
import { leadNoteCreatedEventSchema, leadNoteDeletedEventSchema, leadNoteUpdatedEventSchema } from './notes';
import { leadBulkCompletedEventSchema } from './lead-bulk';

const projectId = { projectId: z.string() };

function payload<T extends string, D extends z.ZodType>(type: T, data: D, id: string) {
  return z
    .strictObject({
      type: z.literal(type),
      timestamp: z.iso.datetime().meta({ description: 'When the event happened.' }),
      data,
    })
    .meta({ id });
}

export const WEBHOOK_PAYLOAD_SCHEMAS = {
  'lead.created': payload('lead.created', leadCreatedEventSchema.extend(projectId), 'WebhookLeadCreated'),
  'lead.updated': payload('lead.updated', leadUpdatedEventSchema.extend(projectId), 'WebhookLeadUpdated'),
  'lead.merged': payload('lead.merged', leadMergedEventSchema.extend(projectId), 'WebhookLeadMerged'),
  'lead.deleted': payload('lead.deleted', leadDeletedEventSchema.extend(projectId), 'WebhookLeadDeleted'),
  'lead.note.created': payload(
    'lead.note.created',
    leadNoteCreatedEventSchema.extend(projectId),
    'WebhookLeadNoteCreated',
  ),
  'lead.note.updated': payload(
    'lead.note.updated',
    leadNoteUpdatedEventSchema.extend(projectId),
    'WebhookLeadNoteUpdated',
  ),
  'lead.note.deleted': payload(
    'lead.note.deleted',
    leadNoteDeletedEventSchema.extend(projectId),
    'WebhookLeadNoteDeleted',
  ),
  'lead.bulk.completed': payload(
    'lead.bulk.completed',
    leadBulkCompletedEventSchema.extend(projectId),
    'WebhookLeadBulkCompleted',
  ),
  'conversation.created': payload(
    'conversation.created',
    conversationCreatedEventSchema.extend(projectId),
    'WebhookConversationCreated',
  ),
  'conversation.updated': payload(
    'conversation.updated',
    conversationUpdatedEventSchema.extend(projectId),
    'WebhookConversationUpdated',
  ),
  'message.created': payload('message.created', messageCreatedEventSchema.extend(projectId), 'WebhookMessageCreated'),
  [WEBHOOK_TEST_EVENT]: payload(
    WEBHOOK_TEST_EVENT,
    z.strictObject({ projectId: z.string(), webhookId: z.string() }),
    'WebhookTest',
  ),
};

export const webhookPayloadSchema = z
  .discriminatedUnion(
    'type',
    Object.values(WEBHOOK_PAYLOAD_SCHEMAS) as [
      (typeof WEBHOOK_PAYLOAD_SCHEMAS)['lead.created'],
      ...(typeof WEBHOOK_PAYLOAD_SCHEMAS)[keyof typeof WEBHOOK_PAYLOAD_SCHEMAS][],
    ],
  )
  .meta({ id: 'WebhookPayload' });
