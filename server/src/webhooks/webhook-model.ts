import { Schema, type Connection, type Model } from 'mongoose';
import type { WebhookDisabledReason, WebhookEventFilter } from '@parley/protocol';

export interface WebhookSecret {
  /** `whsec_` + base64 of the key. */
  value: string;
  /** Set on the previous secret at a rotation: it signs alongside the new one until then. */
  expiresAt?: Date;
}

export interface WebhookDoc {
  _id: string;
  projectId: string;
  url: string;
  events: WebhookEventFilter[];
  description?: string;
  active: boolean;
  disabledReason?: WebhookDisabledReason;
  disabledAt?: Date;
  /** The current secret first, then the previous one while it still signs. */
  secrets: WebhookSecret[];
  /** Since when every attempt failed (unset by a success); decides the 3-day deactivation. */
  failingSince?: Date;
  createdAt: Date;
  updatedAt: Date;
}

const webhookSchema = new Schema<WebhookDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    url: { type: String, required: true },
    events: { type: [String], required: true },
    description: String,
    active: { type: Boolean, required: true },
    disabledReason: String,
    disabledAt: Date,
    secrets: { type: [{ _id: false, value: { type: String, required: true }, expiresAt: Date }], required: true },
    failingSince: Date,
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

// A project's webhooks, oldest first: the list, and every node's directory of who wants what.
webhookSchema.index({ projectId: 1, createdAt: 1 });

export type WebhookModel = Model<WebhookDoc>;

export function registerWebhookModel(connection: Connection): WebhookModel {
  return connection.model<WebhookDoc>('Webhook', webhookSchema, 'webhooks');
}
