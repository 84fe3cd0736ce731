import { Schema, type Connection, type Model } from 'mongoose';

/**
 * One event for one webhook: the outbox record and, as attempts go, its delivery log.
 * - `held`: written before a change that deletes its document (an erasure), not sent until released;
 * - `pending`: to be sent; `dueAt` is when it may be claimed (its next attempt, or the end of the
 *   lease of the worker that claimed it);
 * - `delivered` / `failed`: done.
 */
export type StoredDeliveryStatus = 'held' | 'pending' | 'delivered' | 'failed';

export interface DeliveryDoc {
  /** Derived from the event and the webhook: recording an event twice writes it once. */
  _id: string;
  projectId: string;
  webhookId: string;
  /** The `webhook-id` header. */
  eventId: string;
  eventType: string;
  /** `{webhookId}:{leadId}`: the lead whose events leave in order for this webhook; '' when none (a test event). */
  lane: string;
  /** Position among the lane's events: when it happened, then the order of recording on its node. */
  order: number;
  /** The exact JSON that is signed and sent. */
  body: string;
  status: StoredDeliveryStatus;
  /** Attempts made, redeliveries included. */
  attempts: number;
  /** Attempts since the last redelivery: the position in the retry schedule. */
  round: number;
  dueAt?: Date;
  /** The claim of the worker sending it now: `{pid}:{random}`. */
  lease?: string;
  /** For a held record: the document whose disappearance releases it. */
  subject?: string;
  lastStatusCode?: number;
  lastError?: string;
  lastResponseBody?: string;
  createdAt: Date;
  deliveredAt?: Date;
  /** When a finished delivery leaves the log (a TTL index removes it). */
  expiresAt?: Date;
}

const deliverySchema = new Schema<DeliveryDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    webhookId: { type: String, required: true },
    eventId: { type: String, required: true },
    eventType: { type: String, required: true },
    lane: { type: String, required: true, default: '' },
    order: { type: Number, required: true },
    body: { type: String, required: true },
    status: { type: String, required: true },
    attempts: { type: Number, required: true },
    round: { type: Number, required: true },
    dueAt: Date,
    lease: String,
    subject: String,
    lastStatusCode: Number,
    lastError: String,
    lastResponseBody: String,
    createdAt: { type: Date, required: true },
    deliveredAt: Date,
    expiresAt: Date,
  },
  { versionKey: false },
);

// Each index below is updated as a delivery is recorded, claimed and finished: they are few, and
// sparse where a finished delivery has nothing to find (each entry moved costs the database two
// searches, and deliveries are written as often as messages).
// Claims: the deliveries that are due, soonest first (pending, and the held ones to re-check).
// Sparse: a finished delivery has no `dueAt` and leaves it; queries give `dueAt` a range.
deliverySchema.index({ dueAt: 1 }, { sparse: true });
// Order: is an earlier delivery of this lead still pending for this webhook?
deliverySchema.index({ webhookId: 1, lane: 1, status: 1, order: 1 });
// The deliveries log, newest first, all or by status.
deliverySchema.index({ webhookId: 1, createdAt: -1, _id: -1 });
deliverySchema.index({ webhookId: 1, status: 1, createdAt: -1, _id: -1 });
// The log keeps finished deliveries for 30 days (sparse: only finished ones have `expiresAt`).
deliverySchema.index({ expiresAt: 1 }, { expireAfterSeconds: 0, sparse: true });

/** Matches every delivery with a `dueAt` (all pending and held ones), through the sparse index on it. */
export const HAS_DUE_AT = { $gte: new Date(0) };

export type DeliveryModel = Model<DeliveryDoc>;

const DELIVERIES_COLLECTION = 'webhook_deliveries';

export function registerDeliveryModel(connection: Connection): DeliveryModel {
  return connection.model<DeliveryDoc>('WebhookDelivery', deliverySchema, DELIVERIES_COLLECTION);
}

/**
 * Indexes of earlier versions that this one no longer keeps or keeps with other options. MongoDB
 * refuses to build an index whose key pattern an existing index has with other options
 * (`expiresAt_1`, now sparse), so a database written by an earlier version would stop the start;
 * the others only cost every delivery write. Dropped before the model builds its indexes.
 */
const RETIRED_INDEXES: { name: string; unless?: (spec: Record<string, unknown>) => boolean }[] = [
  { name: 'status_1_dueAt_1' },
  { name: 'status_1_createdAt_1' },
  { name: 'expiresAt_1', unless: (spec) => spec['sparse'] === true },
];

export async function dropRetiredDeliveryIndexes(connection: Connection): Promise<string[]> {
  // The driver's collection: the connection is open, and nothing here may wait on mongoose's models.
  const db = connection.db;
  if (!db) return [];
  const collection = db.collection(DELIVERIES_COLLECTION);
  let existing: Record<string, unknown>[];
  try {
    existing = (await collection.listIndexes().toArray()) as Record<string, unknown>[];
  } catch (error) {
    // No collection yet (a new database): nothing to drop.
    if ((error as { codeName?: string }).codeName === 'NamespaceNotFound') return [];
    throw error;
  }
  const dropped: string[] = [];
  for (const retired of RETIRED_INDEXES) {
    const spec = existing.find((index) => index['name'] === retired.name);
    if (!spec || retired.unless?.(spec)) continue;
    try {
      await collection.dropIndex(retired.name);
      dropped.push(retired.name);
    } catch (error) {
      // Another node starting at the same time dropped it first.
      if ((error as { codeName?: string }).codeName !== 'IndexNotFound') throw error;
    }
  }
  return dropped;
}
