import type { Webhook, WebhookDelivery, WebhookEventType } from '@parley/protocol';
import { iso, isoOrUndefined } from '../infra/ids';
import type { DeliveryDoc } from './delivery-model';
import type { WebhookDoc } from './webhook-model';

export function toWebhook(doc: WebhookDoc): Webhook {
  const webhook: Webhook = {
    id: doc._id,
    projectId: doc.projectId,
    url: doc.url,
    events: [...doc.events],
    active: doc.active,
    createdAt: iso(doc.createdAt),
    updatedAt: iso(doc.updatedAt),
  };
  if (doc.description) webhook.description = doc.description;
  if (doc.disabledReason) webhook.disabledReason = doc.disabledReason;
  const disabledAt = isoOrUndefined(doc.disabledAt);
  if (disabledAt) webhook.disabledAt = disabledAt;
  return webhook;
}

/** A held record is shown as pending: it is an event on its way (its change is being made). */
export function toDelivery(doc: DeliveryDoc): WebhookDelivery {
  const delivery: WebhookDelivery = {
    id: doc._id,
    webhookId: doc.webhookId,
    eventId: doc.eventId,
    eventType: doc.eventType as WebhookEventType,
    status: doc.status === 'held' ? 'pending' : doc.status,
    attempts: doc.attempts,
    createdAt: iso(doc.createdAt),
  };
  if (doc.lastStatusCode !== undefined && doc.lastStatusCode !== null) delivery.lastStatusCode = doc.lastStatusCode;
  if (doc.lastError) delivery.lastError = doc.lastError;
  if (doc.lastResponseBody) delivery.lastResponseBody = doc.lastResponseBody;
  if (doc.status === 'pending' && doc.dueAt) delivery.nextAttemptAt = iso(doc.dueAt);
  const deliveredAt = isoOrUndefined(doc.deliveredAt);
  if (deliveredAt) delivery.deliveredAt = deliveredAt;
  return delivery;
}
