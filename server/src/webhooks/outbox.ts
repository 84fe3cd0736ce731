import { randomBytes } from 'node:crypto';
import { WEBHOOK_EVENT_TYPES, WEBHOOK_TEST_EVENT, type WebhookEventType } from '@parley/protocol';
import type { Model } from 'mongoose';
import type { ConversationModel } from '../conversations/conversation-model';
import type { LeadModel } from '../leads/lead-model';
import type { MessageModel } from '../messages/message-model';
import { isDuplicateKeyError } from '../errors';
import type { Clock } from '../infra/clock';
import type { DomainEventName, EventBus } from '../infra/event-bus';
import type { Logger } from '../infra/logger';
import {
  newMark,
  OUTBOX_FIELD,
  type HeldEvent,
  type OutboxMark,
  type OutboxMarker,
  type PublishMeta,
} from '../infra/outbox-mark';
import { rawCollection } from '../infra/raw-collection';
import { HAS_DUE_AT, type DeliveryDoc, type DeliveryModel } from './delivery-model';
import type { WebhookDirectory } from './webhook-directory';
import type { WebhookDoc } from './webhook-model';
import { deliveryIdOf, eventIdOf, routeEvent, type SubjectKind } from './webhook-events';

/** Marks are taken off in batches this far apart (only the sweeper, 30 s later, would miss them). */
const CLEAR_DELAY_MS = 100;
/**
 * Records of marked events waiting to be written beyond which changes wait for theirs: memory stays
 * bounded, and a database that cannot keep up slows the changes rather than piling up work.
 */
const MAX_QUEUED_RECORDS = 10_000;
/** How long a held record waits before the sweeper checks whether its change happened. */
export const HELD_CHECK_MS = 30_000;

/** The documents that carry marks, by kind: the outbox takes a mark off once its event is recorded. */
export interface MarkedModels {
  leads: LeadModel;
  conversations: ConversationModel;
  messages: MessageModel;
}

interface Waiting {
  docs: DeliveryDoc[];
  resolve(): void;
  reject(error: unknown): void;
}

interface MarkToClear {
  kind: SubjectKind;
  docId: string;
  markId: string;
}

/**
 * The webhook outbox: turns domain events into delivery records, one per webhook that wants the
 * event. An event whose change carries a mark (see infra/outbox-mark.ts) is durable with the change
 * itself, so the change is acknowledged without waiting for its records (up to MAX_QUEUED_RECORDS
 * waiting); any other event's records are written before its change is acknowledged (the event
 * bus waits for them, see EventBus.publish). Records of events published together are written
 * together: one insert per batch, one batch in flight at a time, so that this node's records
 * become visible in the order they happened (a lead's order depends on it).
 *
 * How a crash between the change and its record loses nothing: see infra/outbox-mark.ts.
 */
export class Outbox implements OutboxMarker {
  private queue: Waiting[] = [];
  private flushing = false;
  private marksToClear: MarkToClear[] = [];
  private clearing = false;
  private lastOrder = 0;
  /** Records queued and not yet stored. */
  private queued = 0;

  constructor(
    private readonly deliveries: DeliveryModel,
    private readonly directory: WebhookDirectory,
    private readonly marked: MarkedModels,
    private readonly logger: Logger,
    /** Times that other nodes judge (due times, marks' ages, a lead's order) are the cluster's. */
    private readonly clock: Clock,
  ) {}

  /** Called when records were written, so that this node's worker sends them at once. */
  private onRecorded: () => void = () => undefined;

  setWaker(wake: () => void): void {
    this.onRecorded = wake;
  }

  wake(): void {
    this.onRecorded();
  }

  /** Records every webhook event type published on the bus. */
  attach(bus: EventBus): () => void {
    const offs = WEBHOOK_EVENT_TYPES.map((type) =>
      bus.subscribeDurable(type as DomainEventName & WebhookEventType, (payload, meta) =>
        this.record(type, payload, meta),
      ),
    );
    return () => offs.forEach((off) => off());
  }

  /** A mark for a change of this project that causes `type`, if a webhook of the project wants it. */
  async mark(
    projectId: string,
    type: WebhookEventType,
    extra?: Record<string, unknown>,
  ): Promise<OutboxMark | undefined> {
    const subscribers = await this.directory.subscribers(projectId, type);
    return subscribers.length > 0 ? this.stamp(type, extra) : undefined;
  }

  stamp(type: WebhookEventType, extra?: Record<string, unknown>): OutboxMark {
    return newMark(type, extra, this.clock.date());
  }

  /** Which of these projects have a webhook that wants `type` (for a batch of changes). */
  async wanting(projectIds: Iterable<string>, type: WebhookEventType): Promise<Set<string>> {
    const wanted = new Set<string>();
    await Promise.all(
      [...new Set(projectIds)].map(async (projectId) => {
        if ((await this.directory.subscribers(projectId, type)).length > 0) wanted.add(projectId);
      }),
    );
    return wanted;
  }

  /** Writes the event's records (none when no webhook wants it), then takes its mark off. */
  async record(type: WebhookEventType, payload: object, meta: PublishMeta = {}): Promise<void> {
    if (meta.held) return this.release(meta.held);
    const routing = routeEvent(type, payload);
    const subscribers = await this.directory.subscribers(routing.projectId, type);
    const mark = meta.mark && { kind: routing.subject.kind, docId: routing.subject.id, markId: meta.mark.id };
    if (subscribers.length > 0) {
      const eventId = eventIdOf(type, routing.subject.id, meta.mark?.id);
      const at = meta.mark?.at ?? this.clock.date();
      const written = this.write(this.recordsFor(subscribers, type, eventId, at, routing, 'pending'));
      if (mark && this.queued <= MAX_QUEUED_RECORDS) {
        // The mark, stored in the change's own write, already makes the event durable: the change
        // is acknowledged without waiting for its records (the sweeper writes them from the mark
        // if this process dies first). The mark goes once they are stored.
        written.then(
          () => this.clearLater(mark),
          (error: unknown) => this.logger.warn({ err: error }, 'could not record a webhook event: the sweeper will'),
        );
        return;
      }
      // No mark (nothing else makes it durable), or too many records waiting: the change waits.
      await written;
    }
    if (mark) this.clearLater(mark);
  }

  /**
   * Records an event before the change that causes it, held until `release` (after the change).
   * For changes that leave no document to carry a mark: the sweeper releases the records once the
   * document is gone, or drops them if it never goes.
   */
  async hold(type: WebhookEventType, payload: object): Promise<HeldEvent | undefined> {
    const routing = routeEvent(type, payload);
    const subscribers = await this.directory.subscribers(routing.projectId, type);
    if (subscribers.length === 0) return undefined;
    const eventId = eventIdOf(type, routing.subject.id);
    const records = this.recordsFor(subscribers, type, eventId, this.clock.date(), routing, 'held');
    for (const record of records) {
      record.subject = routing.subject.id;
      record.dueAt = new Date(this.clock.now() + HELD_CHECK_MS);
    }
    // A repeated erasure finds its records there already: held (released below) or sent.
    await this.write(records);
    return { eventId };
  }

  async release(held: HeldEvent): Promise<void> {
    await this.deliveries
      .updateMany(
        { eventId: held.eventId, status: 'held', dueAt: HAS_DUE_AT },
        { $set: { status: 'pending', dueAt: this.clock.date() }, $unset: { subject: '' } },
      )
      .exec();
    this.onRecorded();
  }

  /** A `webhook.test` event for one webhook, active or not. */
  async recordTest(webhook: WebhookDoc): Promise<DeliveryDoc> {
    const eventId = `msg_${randomBytes(18).toString('base64url')}`;
    const data = { projectId: webhook.projectId, webhookId: webhook._id };
    const [record] = this.recordsFor(
      [webhook],
      WEBHOOK_TEST_EVENT,
      eventId,
      this.clock.date(),
      { lane: '', data },
      'pending',
    );
    await this.write([record as DeliveryDoc]);
    return record as DeliveryDoc;
  }

  /** When this node's records were all written (for shutdown). */
  async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0 || this.clearing) await new Promise((r) => setTimeout(r, 10));
  }

  private recordsFor(
    webhooks: WebhookDoc[],
    type: string,
    eventId: string,
    at: Date,
    routing: { lane: string; data: Record<string, unknown>; projectId?: string },
    status: 'pending' | 'held',
  ): DeliveryDoc[] {
    const projectId = (webhooks[0] as WebhookDoc).projectId;
    const body = JSON.stringify({ type, timestamp: at.toISOString(), data: { ...routing.data, projectId } });
    const order = this.nextOrder(at);
    const now = this.clock.date();
    return webhooks.map((webhook) => ({
      _id: deliveryIdOf(eventId, webhook._id),
      projectId,
      webhookId: webhook._id,
      eventId,
      eventType: type,
      // Per webhook: a node busy with one webhook's events of a lead still claims the others'.
      lane: routing.lane ? `${webhook._id}:${routing.lane}` : '',
      order,
      body,
      status,
      attempts: 0,
      round: 0,
      dueAt: now,
      createdAt: now,
    }));
  }

  /** Increasing on this node, close to the event's time in milliseconds (times 1,000). */
  private nextOrder(at: Date): number {
    this.lastOrder = Math.max(this.lastOrder + 1, at.getTime() * 1000);
    return this.lastOrder;
  }

  /** Queues records for the next insert; resolves once they are stored. */
  private write(docs: DeliveryDoc[]): Promise<void> {
    if (docs.length === 0) return Promise.resolve();
    this.queued += docs.length;
    return new Promise((resolve, reject) => {
      this.queue.push({ docs, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        // Whatever was published meanwhile goes in this insert.
        await new Promise((r) => setImmediate(r));
        const batch = this.queue;
        this.queue = [];
        const docs = batch.flatMap((w) => w.docs);
        try {
          await this.insert(docs);
          for (const waiting of batch) waiting.resolve();
          this.onRecorded();
        } catch (error) {
          for (const waiting of batch) waiting.reject(error);
        } finally {
          this.queued -= docs.length;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Unordered: a record that exists already (the same event recorded twice) does not stop the rest. */
  private async insert(docs: DeliveryDoc[]): Promise<void> {
    try {
      await rawCollection(this.deliveries).insertMany(docs, { ordered: false });
    } catch (error) {
      const writeErrors = (error as { writeErrors?: { code?: number }[] }).writeErrors;
      if (Array.isArray(writeErrors) && writeErrors.length > 0 && writeErrors.every((e) => e.code === 11000)) return;
      if (isDuplicateKeyError(error) && !Array.isArray(writeErrors)) return;
      throw error;
    }
  }

  /** Takes marks off their documents, batched and after the acknowledgement: only the sweeper waits on them. */
  private clearLater(mark: MarkToClear): void {
    this.marksToClear.push(mark);
    if (this.clearing) return;
    this.clearing = true;
    // A moment later, so that the marks of many batches go in one write.
    setTimeout(() => void this.clearMarks(), CLEAR_DELAY_MS);
  }

  private async clearMarks(): Promise<void> {
    this.clearing = true;
    try {
      while (this.marksToClear.length > 0) {
        await new Promise((r) => setImmediate(r));
        const batch = this.marksToClear;
        this.marksToClear = [];
        for (const kind of ['leads', 'conversations', 'messages'] as const) {
          const marks = batch.filter((m) => m.kind === kind);
          if (marks.length === 0) continue;
          try {
            await this.clear(this.marked[kind] as unknown as Model<{ _id: string }>, marks);
          } catch (error) {
            // The sweeper finds them later, and records nothing twice.
            this.logger.warn({ err: error, kind, marks: marks.length }, 'could not clear outbox marks');
          }
        }
      }
    } finally {
      this.clearing = false;
    }
  }

  private async clear(model: Model<{ _id: string }>, marks: MarkToClear[]): Promise<void> {
    const collection = rawCollection(model);
    const ids = [...new Set(marks.map((m) => m.docId))];
    const markIds = marks.map((m) => m.markId);
    // Usually the document's only mark: the field goes, and the document leaves the sweeper's index.
    const only = await collection.updateMany(
      { _id: { $in: ids }, [`${OUTBOX_FIELD}.1`]: { $exists: false }, [`${OUTBOX_FIELD}.id`]: { $in: markIds } },
      { $unset: { [OUTBOX_FIELD]: '' } },
    );
    if (only.modifiedCount < ids.length) {
      await collection.updateMany({ _id: { $in: ids }, [`${OUTBOX_FIELD}.id`]: { $in: markIds } }, {
        $pull: { [OUTBOX_FIELD]: { id: { $in: markIds } } },
      } as never);
    }
  }
}
