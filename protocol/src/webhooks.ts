/**
 * Outbound webhooks: the events a project's systems can subscribe to, what each delivery carries,
 * and the webhooks and deliveries of the REST API. Deliveries follow the Standard Webhooks
 * specification (`webhook-id`, `webhook-timestamp`, `webhook-signature` headers).
 */
import type { LeadBulkCompletedEvent } from './schemas/lead-bulk';
import type {
  ConversationCreatedEvent,
  ConversationUpdatedEvent,
  LeadCreatedEvent,
  LeadDeletedEvent,
  LeadMergedEvent,
  LeadUpdatedEvent,
  MessageCreatedEvent,
} from './events';
import type { LeadNoteCreatedEvent, LeadNoteDeletedEvent, LeadNoteUpdatedEvent } from './notes';

/**
 * Every event a webhook can subscribe to. A new one is added here by name (the server records
 * each domain event of these names in its outbox; see the README's "Webhooks").
 */
export const WEBHOOK_EVENT_TYPES = [
  'lead.created',
  'lead.updated',
  'lead.merged',
  'lead.deleted',
  'lead.note.created',
  'lead.note.updated',
  'lead.note.deleted',
  'lead.bulk.completed',
  'conversation.created',
  'conversation.updated',
  'message.created',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** What a webhook subscribes to: event types, or `*` for every one (including those added later). */
export type WebhookEventFilter = WebhookEventType | '*';

/** Sent by `POST /webhooks/{id}/test`, whatever the webhook subscribes to. */
export const WEBHOOK_TEST_EVENT = 'webhook.test';

/** `data` of each event: what agents' sockets get for it, plus `projectId`. */
export interface WebhookEventData {
  'lead.created': LeadCreatedEvent & { projectId: string };
  'lead.updated': LeadUpdatedEvent & { projectId: string };
  'lead.merged': LeadMergedEvent & { projectId: string };
  'lead.deleted': LeadDeletedEvent & { projectId: string };
  'lead.note.created': LeadNoteCreatedEvent & { projectId: string };
  'lead.note.updated': LeadNoteUpdatedEvent & { projectId: string };
  'lead.note.deleted': LeadNoteDeletedEvent & { projectId: string };
  'lead.bulk.completed': LeadBulkCompletedEvent & { projectId: string };
  'conversation.created': ConversationCreatedEvent & { projectId: string };
  'conversation.updated': ConversationUpdatedEvent & { projectId: string };
  'message.created': MessageCreatedEvent & { projectId: string };
  'webhook.test': { projectId: string; webhookId: string };
}

/** The JSON body of one delivery. */
export type WebhookPayload = {
  [T in keyof WebhookEventData]: {
    type: T;
    /** When the event happened (ISO 8601); the `webhook-timestamp` header is the attempt's time. */
    timestamp: string;
    data: WebhookEventData[T];
  };
}[keyof WebhookEventData];

/** Why a webhook was turned off: its receiver answered `410 Gone`, or failed everything for days. */
export type WebhookDisabledReason = 'gone' | 'failing';

export interface Webhook {
  id: string;
  projectId: string;
  url: string;
  events: WebhookEventFilter[];
  description?: string;
  /** Inactive webhooks get no deliveries; `PATCH { active: true }` turns one back on. */
  active: boolean;
  disabledReason?: WebhookDisabledReason;
  disabledAt?: string;
  createdAt: string;
  updatedAt: string;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  id: string;
  webhookId: string;
  /** The `webhook-id` header: the same on every attempt of this event. */
  eventId: string;
  eventType: WebhookEventType | typeof WEBHOOK_TEST_EVENT;
  status: WebhookDeliveryStatus;
  attempts: number;
  lastStatusCode?: number;
  lastError?: string;
  /** The receiver's last answer, cut at 64 KB. */
  lastResponseBody?: string;
  /** When a pending delivery is tried next. */
  nextAttemptAt?: string;
  createdAt: string;
  deliveredAt?: string;
}

export interface WebhookCreatedResponse {
  webhook: Webhook;
  /** `whsec_` and base64 of 32 random bytes: signs every delivery; shown only here and on rotation. */
  secret: string;
}

export interface WebhookResponse {
  webhook: Webhook;
}

export interface WebhookListResponse {
  items: Webhook[];
}

export interface WebhookSecretRotatedResponse {
  secret: string;
  /** Until when the previous secret keeps signing alongside the new one (two signatures). */
  previousSecretExpiresAt: string;
}

export interface WebhookDeliveryPage {
  items: WebhookDelivery[];
  /** Pass as `cursor` for the next (older) page; null on the last one. */
  nextCursor: string | null;
}

export interface WebhookDeliveryResponse {
  delivery: WebhookDelivery;
}

/** Extension push on `/agent`: a webhook of the project was turned off. */
export interface WebhookDisabledEvent {
  webhook: Webhook;
  reason: WebhookDisabledReason;
}
