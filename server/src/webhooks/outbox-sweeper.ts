import type { ConversationDoc, ConversationModel } from '../conversations/conversation-model';
import { toConversation } from '../conversations/conversation-view';
import { AppError } from '../errors';
import type { Clock } from '../infra/clock';
import type { LeaseLocks } from '../infra/lease-lock';
import type { Logger } from '../infra/logger';
import { OUTBOX_FIELD, type OutboxMark } from '../infra/outbox-mark';
import { rawCollection } from '../infra/raw-collection';
import type { LeadDoc, LeadModel } from '../leads/lead-model';
import { toLead } from '../leads/lead-view';
import type { MessageDoc, MessageModel } from '../messages/message-model';
import { toMessage } from '../messages/message-view';
import { HAS_DUE_AT, type DeliveryDoc, type DeliveryModel } from './delivery-model';
import { HELD_CHECK_MS, type Outbox } from './outbox';
import { isWebhookEventType } from './webhook-events';

/** A mark this old was left by a writer that stopped between its change and its outbox record. */
export const MARK_GRACE_MS = 30_000;
const SWEEP_EVERY_MS = 10_000;
/** A held record whose change has not happened after this long never will (an erasure given up). */
const HELD_MAX_AGE_MS = 24 * 3600 * 1000;
const BATCH = 200;

type Marked<T> = T & { [OUTBOX_FIELD]?: OutboxMark[] };

/**
 * Finishes what a crash interrupted (see infra/outbox-mark.ts): records the events of marks left
 * on documents, and releases (or drops) held records, on one node at a time (a lease lock; two
 * sweepers at once would only record nothing twice). The event is recorded from the document as
 * it is now, with what the mark kept of it (`changes`…), under the mark's id.
 */
export class OutboxSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly models: {
      leads: LeadModel;
      conversations: ConversationModel;
      messages: MessageModel;
      deliveries: DeliveryModel;
    },
    private readonly outbox: Outbox,
    private readonly locks: LeaseLocks,
    private readonly logger: Logger,
    /** Marks are dated on the cluster's clock: their age is judged on it, whichever node sweeps. */
    private readonly clock: Clock,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'outbox sweep failed'))
        .finally(() => (this.running = undefined));
    }, SWEEP_EVERY_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async sweep(now = this.clock.date()): Promise<void> {
    try {
      await this.locks.withLock('webhooks:sweep', { leaseMs: 60_000, waitMs: 0 }, async () => {
        const before = new Date(now.getTime() - MARK_GRACE_MS);
        const revived = (await this.leads(before)) + (await this.conversations(before)) + (await this.messages(before));
        if (revived > 0) this.logger.warn({ events: revived }, 'recorded webhook events a crash had left unrecorded');
        await this.held(now);
      });
    } catch (error) {
      if (error instanceof AppError && error.code === 'CONFLICT') return; // another node is sweeping
      throw error;
    }
  }

  private stale<T extends { _id: string }>(model: { find: LeadModel['find'] }, before: Date): Promise<Marked<T>[]> {
    return model
      .find({ [`${OUTBOX_FIELD}.at`]: { $lt: before } })
      .limit(BATCH)
      .lean<Marked<T>[]>()
      .exec();
  }

  private async revive(
    docs: { _id: string; marks: OutboxMark[]; payload: (mark: OutboxMark) => object | undefined }[],
    clear: (id: string) => Promise<void>,
    before: Date,
  ): Promise<number> {
    let count = 0;
    for (const { _id, marks, payload } of docs) {
      for (const mark of marks.filter((m) => m.at < before)) {
        const body = isWebhookEventType(mark.type) ? payload(mark) : undefined;
        // A mark whose event cannot be made any more (its conversation was erased) is dropped.
        if (!body || !isWebhookEventType(mark.type)) await clear(_id);
        else {
          await this.outbox.record(mark.type, body, { mark });
          count++;
        }
      }
    }
    return count;
  }

  private async leads(before: Date): Promise<number> {
    const docs = await this.stale<LeadDoc>(this.models.leads as never, before);
    return this.revive(
      docs.map((doc) => ({
        _id: doc._id,
        marks: doc[OUTBOX_FIELD] ?? [],
        payload: (mark) => ({ lead: toLead(doc), ...mark.extra }),
      })),
      (id) => this.unset(this.models.leads, id),
      before,
    );
  }

  private async conversations(before: Date): Promise<number> {
    const docs = await this.stale<ConversationDoc>(this.models.conversations as never, before);
    const leads = await this.byId<LeadDoc>(
      this.models.leads as never,
      docs.map((d) => d.leadId),
    );
    return this.revive(
      docs.map((doc) => ({
        _id: doc._id,
        marks: doc[OUTBOX_FIELD] ?? [],
        payload: (mark) => {
          const conversation = toConversation(doc);
          // Every change is marked with its `change` (who, why); one without is the system's.
          if (mark.type === 'conversation.updated')
            return { conversation, change: { by: { type: 'system' } }, ...mark.extra };
          if (mark.type !== 'conversation.created') return { conversation, ...mark.extra };
          const lead = leads.get(doc.leadId);
          return lead ? { conversation, lead: toLead(lead), ...mark.extra } : undefined;
        },
      })),
      (id) => this.unset(this.models.conversations, id),
      before,
    );
  }

  private async messages(before: Date): Promise<number> {
    const docs = await this.stale<MessageDoc>(this.models.messages as never, before);
    const conversations = await this.byId<ConversationDoc>(
      this.models.conversations as never,
      docs.map((d) => d.conversationId),
    );
    // In seq order, so that a crashed writer's messages are recorded in the order they were written.
    docs.sort((a, b) => (a.conversationId === b.conversationId ? a.seq - b.seq : 0));
    return this.revive(
      docs.map((doc) => ({
        _id: doc._id,
        marks: doc[OUTBOX_FIELD] ?? [],
        payload: () => {
          const conversation = conversations.get(doc.conversationId);
          return conversation ? { message: toMessage(doc), conversation: toConversation(conversation) } : undefined;
        },
      })),
      (id) => this.unset(this.models.messages, id),
      before,
    );
  }

  /** Held records: released once their document is gone; dropped when it never went. */
  private async held(now: Date): Promise<void> {
    const held = await this.models.deliveries
      .find({ status: 'held', dueAt: { $lte: now } })
      .limit(BATCH)
      .lean<DeliveryDoc[]>()
      .exec();
    const events = new Map(held.map((d) => [d.eventId, d]));
    for (const [eventId, record] of events) {
      const gone = record.subject ? !(await this.models.leads.exists({ _id: record.subject }).exec()) : true;
      if (gone) await this.outbox.release({ eventId });
      else if (record.createdAt.getTime() < now.getTime() - HELD_MAX_AGE_MS)
        await this.models.deliveries.deleteMany({ eventId, status: 'held', dueAt: HAS_DUE_AT }).exec();
      else
        await this.models.deliveries
          .updateMany(
            { eventId, status: 'held', dueAt: HAS_DUE_AT },
            { $set: { dueAt: new Date(now.getTime() + HELD_CHECK_MS) } },
          )
          .exec();
    }
  }

  private async byId<T extends { _id: string }>(
    model: { find: LeadModel['find'] },
    ids: string[],
  ): Promise<Map<string, T>> {
    if (ids.length === 0) return new Map();
    const docs = await model
      .find({ _id: { $in: [...new Set(ids)] } })
      .lean<T[]>()
      .exec();
    return new Map(docs.map((d) => [d._id, d]));
  }

  private async unset(model: { collection: unknown }, id: string): Promise<void> {
    await rawCollection(model as never).updateOne({ _id: id } as never, { $unset: { [OUTBOX_FIELD]: '' } });
  }
}
