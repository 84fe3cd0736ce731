import { z } from 'zod';
import { LIMITS } from '../limits';
import { WEBHOOK_EVENT_TYPES } from '../webhooks';
import { pageCursorSchema, queryInt, textSchema } from './common';

/**
 * An http(s) URL with a host, no credentials. Whether its host is an address Parley may send to
 * (not loopback, private or link-local in production) is decided by the server, which resolves it.
 */
export const webhookUrlSchema = z
  .string()
  .trim()
  .min(1)
  .max(LIMITS.webhookUrlMax)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL')
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.username === '' && url.password === '';
    } catch {
      return true;
    }
  }, 'must not carry a user name or password')
  .meta({ examples: ['https://example.com/hooks/parley', 'https://crm.example.org:8443/parley?source=chat'] });

export const webhookEventFilterSchema = z.enum([...WEBHOOK_EVENT_TYPES, '*']);

const eventsSchema = z
  .array(webhookEventFilterSchema)
  .min(1)
  .max(WEBHOOK_EVENT_TYPES.length + 1)
  .transform((events) => [...new Set(events)]);

export const webhookCreateSchema = z.strictObject({
  url: webhookUrlSchema,
  events: eventsSchema,
  description: textSchema(LIMITS.webhookDescriptionMax).optional(),
});

/** `active: true` turns a deactivated webhook back on; `description: null` removes it. */
export const webhookUpdateSchema = z
  .strictObject({
    url: webhookUrlSchema.optional(),
    events: eventsSchema.optional(),
    description: textSchema(LIMITS.webhookDescriptionMax).nullable().optional(),
    active: z.boolean().optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'must set at least one field');

export const webhookDeliveryListQuerySchema = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  limit: queryInt(1, LIMITS.pageLimitMax).optional(),
  cursor: pageCursorSchema.optional(),
});

export type WebhookCreateInput = z.input<typeof webhookCreateSchema>;
export type WebhookUpdateInput = z.input<typeof webhookUpdateSchema>;
export type WebhookDeliveryListQuery = z.output<typeof webhookDeliveryListQuerySchema>;
