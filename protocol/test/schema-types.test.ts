/**
 * The response schemas must describe exactly the types the server and SDK are written against:
 * this file does not compile when a schema and its interface drift apart (`tsc -b` runs it), and
 * the test below keeps jest aware of it.
 */
import type { z } from 'zod';
import type {
  Agent,
  AgentLoginResponse,
  Conversation,
  ConversationCreatedEvent,
  ConversationHistoryResult,
  ConversationStartResult,
  ErrorResponse,
  HealthResponse,
  Lead,
  LeadDetailResponse,
  LeadUpdatedEvent,
  LeadUpdateResult,
  MeResponse,
  Message,
  MessagePage,
  Page,
  Project,
  ProjectCreatedResponse,
  SecretRotatedResponse,
  SessionExpiringEvent,
  SyncReloadEvent,
  TypingEvent,
  VisitorAuthResponse,
  Webhook,
  WebhookCreatedResponse,
  WebhookDelivery,
  WebhookDeliveryPage,
  WebhookDisabledEvent,
  WebhookPayload,
  WebhookSecretRotatedResponse,
  WidgetConfig,
} from '../src';
import type * as s from '../src/schemas';

/** True when each type is assignable to the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Out<T extends z.ZodType> = z.output<T>;

const checks: true[] = [
  true as Same<Out<typeof s.projectSchema>, Project>,
  true as Same<Out<typeof s.agentSchema>, Agent>,
  true as Same<Out<typeof s.leadSchema>, Lead>,
  true as Same<Out<typeof s.conversationSchema>, Conversation>,
  true as Same<Out<typeof s.messageSchema>, Message>,
  true as Same<Out<typeof s.leadPageSchema>, Page<Lead>>,
  true as Same<Out<typeof s.conversationPageSchema>, Page<Conversation>>,
  true as Same<Out<typeof s.messagePageSchema>, MessagePage>,
  true as Same<Out<typeof s.projectCreatedResponseSchema>, ProjectCreatedResponse>,
  true as Same<Out<typeof s.secretRotatedResponseSchema>, SecretRotatedResponse>,
  true as Same<Out<typeof s.widgetConfigSchema>, WidgetConfig>,
  true as Same<Out<typeof s.visitorAuthResponseSchema>, VisitorAuthResponse>,
  true as Same<Out<typeof s.agentLoginResponseSchema>, AgentLoginResponse>,
  true as Same<Out<typeof s.meResponseSchema>, MeResponse>,
  true as Same<Out<typeof s.leadDetailResponseSchema>, LeadDetailResponse>,
  true as Same<Out<typeof s.healthResponseSchema>, HealthResponse>,
  true as Same<Out<typeof s.errorResponseSchema>, ErrorResponse>,
  true as Same<Out<typeof s.conversationCreatedEventSchema>, ConversationCreatedEvent>,
  true as Same<Out<typeof s.leadUpdatedEventSchema>, LeadUpdatedEvent>,
  true as Same<Out<typeof s.typingEventSchema>, TypingEvent>,
  true as Same<Out<typeof s.syncReloadEventSchema>, SyncReloadEvent>,
  true as Same<Out<typeof s.sessionExpiringEventSchema>, SessionExpiringEvent>,
  true as Same<Out<typeof s.conversationStartResultSchema>, ConversationStartResult>,
  true as Same<Out<typeof s.conversationHistoryResultSchema>, ConversationHistoryResult>,
  true as Same<Out<typeof s.leadUpdateResultSchema>, LeadUpdateResult>,
  true as Same<Out<typeof s.webhookSchema>, Webhook>,
  true as Same<Out<typeof s.webhookDeliverySchema>, WebhookDelivery>,
  true as Same<Out<typeof s.webhookCreatedResponseSchema>, WebhookCreatedResponse>,
  true as Same<Out<typeof s.webhookSecretRotatedResponseSchema>, WebhookSecretRotatedResponse>,
  true as Same<Out<typeof s.webhookDeliveryPageSchema>, WebhookDeliveryPage>,
  true as Same<Out<typeof s.webhookDisabledEventSchema>, WebhookDisabledEvent>,
  true as Same<Out<typeof s.webhookPayloadSchema>, WebhookPayload>,
];

describe('response schemas', () => {
  it('have the types of the protocol interfaces (checked by the compiler)', () => {
    expect(checks.every((c) => c)).toBe(true);
  });
});
