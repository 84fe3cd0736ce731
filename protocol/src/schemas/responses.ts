/**
 * Schemas of what the server sends: the entities and the REST response bodies. They mirror the
 * types of `entities.ts` and `rest.ts` (the compile-time checks of `test/schema-types.test.ts` keep
 * them equal) and are what the published OpenAPI and AsyncAPI documents describe; the contract
 * test validates real responses against them. Objects are strict, so a field the server starts to
 * send without documenting it is a contract failure, not a silent leak.
 */
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors';
import { widgetAvailabilitySchema } from './routing-responses';
import { WEBHOOK_EVENT_TYPES, WEBHOOK_TEST_EVENT } from '../webhooks';

/** ISO 8601 time in UTC, as the server writes it (`Date.prototype.toISOString`). */
const timeSchema = z.iso.datetime();

const attributeValueOut = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const attributesOut = z.record(z.string(), attributeValueOut);

export const originValueSchema = z
  .union([
    z.literal('agent'),
    z.templateLiteral(['visitor:', z.string()]),
    z.templateLiteral(['customer:', z.string()]),
  ])
  .meta({ id: 'Origin', description: 'Who set a value: `agent`, `visitor:{userId}` or `customer:{userId}`.' });

export const preChatFormOutSchema = z
  .strictObject({
    enabled: z.boolean(),
    fields: z.array(
      z.strictObject({
        name: z.string(),
        label: z.string(),
        type: z.enum(['text', 'email', 'tel', 'textarea']),
        required: z.boolean(),
      }),
    ),
  })
  .meta({ id: 'PreChatForm' });

export const projectSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    allowedOrigins: z.array(z.string()),
    preChatForm: preChatFormOutSchema,
    resolvedConversationReply: z.enum(['reopen', 'new']).meta({
      description: "What a visitor's message into a resolved conversation does: reopen it, or start a new one.",
    }),
    createdAt: timeSchema,
  })
  .meta({ id: 'Project' });

export const agentSchema = z
  .strictObject({
    id: z.string(),
    projectId: z.string(),
    email: z.string(),
    name: z.string(),
    role: z.enum(['owner', 'agent']),
    createdAt: timeSchema,
  })
  .meta({ id: 'Agent' });

export const keptApartValueSchema = z
  .strictObject({
    field: z.string(),
    value: z.union([z.string(), z.number(), z.boolean()]),
    origin: originValueSchema,
  })
  .meta({ id: 'KeptApartValue' });

export const leadSchema = z
  .strictObject({
    id: z.string(),
    projectId: z.string(),
    userId: z.string(),
    kind: z.enum(['anonymous', 'verified', 'manual']),
    fullname: z.string().optional(),
    lastname: z.string().optional(),
    email: z.string().optional(),
    phone: z.string().optional(),
    attributes: attributesOut,
    tags: z.array(z.string()),
    conversationCount: z.number().int(),
    createdAt: timeSchema,
    updatedAt: timeSchema,
    lastSeenAt: timeSchema.optional(),
    mergedInto: z.string().optional(),
    origins: z.record(z.string(), originValueSchema).optional(),
    keptApart: z.array(keptApartValueSchema).optional(),
    blocked: z
      .literal(true)
      .optional()
      .meta({ description: 'Extension: present (true) only while the lead is blocked.' }),
    blockedAt: timeSchema.optional(),
    blockedBy: z.string().optional().meta({ description: 'The agent who blocked the lead.' }),
  })
  .meta({ id: 'Lead', description: 'Shown as "contact" in user interfaces: one user of one project.' });

export const visitorLeadViewSchema = z
  .strictObject({
    id: z.string(),
    fullname: z.string().optional(),
    lastname: z.string().optional(),
    email: z.string().optional(),
    phone: z.string().optional(),
    attributes: attributesOut,
  })
  .meta({ id: 'VisitorLeadView', description: 'What a visitor may see of its lead: only the values it set.' });

const senderRoleSchema = z.enum(['visitor', 'agent', 'system']);

export const senderSchema = z
  .strictObject({ id: z.string(), role: senderRoleSchema, name: z.string().optional() })
  .meta({ id: 'Sender' });

export const conversationStatusOutSchema = z.enum(['open', 'pending', 'snoozed', 'resolved']).meta({
  id: 'ConversationStatus',
  description:
    '`open`: waiting for an agent; `pending`: waiting for the visitor; `snoozed`: until `snoozedUntil`; `resolved`: done.',
});

export const conversationSchema = z
  .strictObject({
    id: z.string(),
    projectId: z.string(),
    leadId: z.string(),
    userId: z.string(),
    status: conversationStatusOutSchema,
    assigneeId: z.string().optional(),
    participants: z.array(z.string()),
    lastMessage: z.strictObject({ text: z.string(), senderRole: senderRoleSchema, createdAt: timeSchema }).optional(),
    lastMessageAt: timeSchema.optional(),
    messageCount: z.number().int(),
    lastSeq: z.number().int(),
    attributes: attributesOut,
    snoozedUntil: timeSchema.optional(),
    resolvedAt: timeSchema.optional(),
    createdAt: timeSchema,
    updatedAt: timeSchema,
    closedAt: timeSchema.optional().meta({ description: 'Deprecated: the same as `resolvedAt`.' }),
    unreadCount: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: "In one reader's lists: the other side's messages after that reader's read position." }),
    readSeq: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: "With `unreadCount`: the reader's read position." }),
    teamId: z.string().optional(),
    offline: z.boolean().optional(),
  })
  .meta({ id: 'Conversation' });

export const cannedResponseSchema = z
  .strictObject({
    id: z.string(),
    projectId: z.string(),
    shortCode: z.string(),
    text: z.string(),
    createdAt: timeSchema,
    updatedAt: timeSchema,
  })
  .meta({ id: 'CannedResponse', description: 'A reply agents insert by its short code.' });

export const messageSchema = z
  .strictObject({
    id: z.string(),
    conversationId: z.string(),
    projectId: z.string(),
    seq: z.number().int().min(1),
    clientMessageId: z.string(),
    sender: senderSchema,
    text: z.string(),
    createdAt: timeSchema,
  })
  .meta({ id: 'Message' });

export const visitorUserSchema = z
  .strictObject({ id: z.string(), kind: z.enum(['anonymous', 'verified']) })
  .meta({ id: 'VisitorUser' });

// ---- REST response bodies ----

function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z
    .strictObject({ items: z.array(item), total: z.number().int(), page: z.number().int(), limit: z.number().int() })
    .meta({ id });
}

export const leadPageSchema = pageOf(leadSchema, 'LeadPage');
export const conversationPageSchema = pageOf(conversationSchema, 'ConversationPage');
export const cannedResponsePageSchema = pageOf(cannedResponseSchema, 'CannedResponsePage');

export const renderedTextResponseSchema = z
  .strictObject({ text: z.string() })
  .meta({ id: 'RenderedTextResponse', description: "A canned response's text with its fields filled in." });

export const messagePageSchema = z
  .strictObject({ items: z.array(messageSchema), hasMore: z.boolean() })
  .meta({ id: 'MessagePage' });

export const projectResponseSchema = z.strictObject({ project: projectSchema }).meta({ id: 'ProjectResponse' });

export const projectCreatedResponseSchema = z
  .strictObject({
    project: projectSchema,
    secret: z.string().meta({ description: 'Signs verified-visitor tokens; shown only here and on rotation.' }),
  })
  .meta({ id: 'ProjectCreatedResponse' });

export const secretRotatedResponseSchema = z
  .strictObject({ secret: z.string(), previousSecretExpiresAt: timeSchema })
  .meta({ id: 'SecretRotatedResponse' });

export const agentResponseSchema = z.strictObject({ agent: agentSchema }).meta({ id: 'AgentResponse' });

export const agentListResponseSchema = z
  .strictObject({ items: z.array(agentSchema) })
  .meta({ id: 'AgentListResponse' });

export const widgetConfigSchema = z
  .strictObject({
    projectId: z.string(),
    name: z.string(),
    preChatForm: preChatFormOutSchema,
    availability: widgetAvailabilitySchema,
  })
  .meta({ id: 'WidgetConfig' });

export const visitorAuthResponseSchema = z
  .strictObject({ token: z.string(), user: visitorUserSchema, expiresAt: timeSchema })
  .meta({ id: 'VisitorAuthResponse' });

export const agentLoginResponseSchema = z
  .strictObject({ token: z.string(), agent: agentSchema, expiresAt: timeSchema })
  .meta({ id: 'AgentLoginResponse' });

export const meResponseSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('visitor'),
      projectId: z.string(),
      user: visitorUserSchema,
      expiresAt: timeSchema,
    }),
    z.strictObject({ kind: z.literal('agent'), agent: agentSchema, expiresAt: timeSchema }),
    z.strictObject({ kind: z.literal('admin') }),
  ])
  .meta({ id: 'MeResponse' });

export const leadDetailResponseSchema = z
  .strictObject({ lead: leadSchema, conversations: z.array(conversationSchema) })
  .meta({ id: 'LeadDetailResponse' });

export const leadMergedResponseSchema = z.strictObject({ lead: leadSchema }).meta({ id: 'LeadMergedResponse' });

export const conversationResponseSchema = z
  .strictObject({ conversation: conversationSchema })
  .meta({ id: 'ConversationResponse' });

export const healthResponseSchema = z
  .strictObject({
    status: z.enum(['ok', 'unavailable']),
    checks: z.record(z.string(), z.enum(['ok', 'down'])).optional(),
  })
  .meta({ id: 'HealthResponse' });

// ---- webhooks ----

export const webhookSchema = z
  .strictObject({
    id: z.string(),
    projectId: z.string(),
    url: z.string(),
    events: z.array(z.enum([...WEBHOOK_EVENT_TYPES, '*'])),
    description: z.string().optional(),
    active: z.boolean(),
    disabledReason: z.enum(['gone', 'failing']).optional(),
    disabledAt: timeSchema.optional(),
    createdAt: timeSchema,
    updatedAt: timeSchema,
  })
  .meta({ id: 'Webhook' });

export const webhookDeliverySchema = z
  .strictObject({
    id: z.string(),
    webhookId: z.string(),
    eventId: z.string().meta({ description: 'The `webhook-id` header, the same on every attempt.' }),
    eventType: z.enum([...WEBHOOK_EVENT_TYPES, WEBHOOK_TEST_EVENT]),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().optional(),
    lastError: z.string().optional(),
    lastResponseBody: z.string().optional(),
    nextAttemptAt: timeSchema.optional(),
    createdAt: timeSchema,
    deliveredAt: timeSchema.optional(),
  })
  .meta({ id: 'WebhookDelivery' });

export const webhookCreatedResponseSchema = z
  .strictObject({
    webhook: webhookSchema,
    secret: z.string().meta({ description: '`whsec_…`: signs every delivery; shown only here and on rotation.' }),
  })
  .meta({ id: 'WebhookCreatedResponse' });

export const webhookResponseSchema = z.strictObject({ webhook: webhookSchema }).meta({ id: 'WebhookResponse' });

export const webhookListResponseSchema = z
  .strictObject({ items: z.array(webhookSchema) })
  .meta({ id: 'WebhookListResponse' });

export const webhookSecretRotatedResponseSchema = z
  .strictObject({ secret: z.string(), previousSecretExpiresAt: timeSchema })
  .meta({ id: 'WebhookSecretRotatedResponse' });

export const webhookDeliveryPageSchema = z
  .strictObject({ items: z.array(webhookDeliverySchema), nextCursor: z.string().nullable() })
  .meta({ id: 'WebhookDeliveryPage' });

export const webhookDeliveryResponseSchema = z
  .strictObject({ delivery: webhookDeliverySchema })
  .meta({ id: 'WebhookDeliveryResponse' });

export const errorBodySchema = z
  .strictObject({
    code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    details: z
      .looseObject({
        fields: z.array(z.strictObject({ field: z.string(), message: z.string() })).optional(),
        retryAfterMs: z.number().optional(),
      })
      .optional(),
  })
  .meta({ id: 'ErrorBody' });

export const errorResponseSchema = z.strictObject({ error: errorBodySchema }).meta({ id: 'ErrorResponse' });
