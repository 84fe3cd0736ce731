import { randomBytes } from 'node:crypto';
import { WEBHOOK_TEST_EVENT, type WebhookDisabledReason } from '@parley/protocol';
import type { WebhookConfig } from '../config';
import { monotonicMs, type Clock } from '../infra/clock';
import type { EventBus } from '../infra/event-bus';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import type { DeliveryDoc, DeliveryModel } from './delivery-model';
import type { WebhookDirectory } from './webhook-directory';
import type { WebhookDoc, WebhookModel } from './webhook-model';
import type { AttemptResult, WebhookSender } from './webhook-sender';
import { signatureHeader, signingSecrets } from './webhook-signer';
import { UpdateBatcher } from './update-batcher';
import { rawCollection } from '../infra/raw-collection';
import { toWebhook } from './webhook-view';

/** A claim outlives the longest attempt by this much, so that a live worker never loses its claim. */
const LEASE_MARGIN_MS = 5000;
/** How often an idle worker looks for due deliveries written by other nodes. */
const POLL_MS = 500;
/** How soon a delivery held back behind one in its retry schedule looks again, at the earliest. */
const RECHECK_MS = 1000;
/**
 * How long a delivery held back behind one in flight waits at most: the node that finishes that one
 * sends it next (claimNextInLane), so this only bounds a wait whose waker failed.
 */
const PARK_MS = 60_000;
/** Claims that found nothing are not repeated more often than this, however often work is announced. */
const MIN_EMPTY_POLL_GAP_MS = 50;
/** How long finished deliveries stay in the log. */
export const RETENTION_MS = 30 * 24 * 3600 * 1000;
/** How long a node trusts what it last wrote about a webhook's health before writing it again. */
const HEALTH_MEMO_MS = 60_000;

type WorkerOptions = Pick<
  WebhookConfig,
  'retryDelaysMs' | 'timeoutMs' | 'disableAfterMs' | 'maxInFlight' | 'maxInFlightPerWebhook'
>;

/**
 * Sends deliveries. Every node runs one; they share the work through the database alone:
 * - a delivery is claimed by one atomic findOneAndUpdate that sets its lease (`lease`, and `dueAt`
 *   moved to the lease's end), so two nodes never send the same attempt, and a node that dies
 *   holding a claim lets it go when the lease ends (another node then sends it again, with the
 *   same `webhook-id`);
 * - a lead's events leave in order for each webhook: a claimed delivery with an earlier one of its
 *   lead still pending is put back to wait for it (a failing delivery holds back its lead's later
 *   ones, nobody else's);
 * - requests in flight are bounded on each node, in all and per webhook: a slow receiver fills
 *   its own share and is not claimed for beyond it.
 */
export class DeliveryWorker {
  /** Names this node's claims, so that it can tell its own from others'. */
  private readonly nodeId = `${process.pid}:${randomBytes(4).toString('hex')}`;
  private claims = 0;
  private inFlight = 0;
  private readonly perWebhook = new Map<string, number>();
  /** Leads with a delivery in flight from this node: their next ones follow it (claimNextInLane), not a claim. */
  private readonly busyLanes = new Map<string, number>();
  /** Deliveries of this node put back behind another one: woken when that one is done here. */
  private readonly waiters = new Map<string, string[]>();
  private readonly controllers = new Set<AbortController>();
  private readonly health = new Map<string, { failing: boolean; at: number }>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private again = false;
  private lastEmptyPoll = 0;
  private stopped = true;
  /** Outcomes of attempts, written together when several finish at once. */
  private readonly updates: UpdateBatcher<DeliveryDoc>;

  constructor(
    private readonly deliveries: DeliveryModel,
    private readonly webhooks: WebhookModel,
    private readonly directory: WebhookDirectory,
    private readonly sender: WebhookSender,
    private readonly bus: EventBus,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: WorkerOptions,
    /**
     * Due times, leases, a failing webhook's start and a previous secret's end are written by one
     * node and judged by another: on the cluster's clock, as leases are (see Clock). This node's
     * own waits are measured on the monotonic clock.
     */
    private readonly clock: Clock,
  ) {
    this.updates = new UpdateBatcher(rawCollection(deliveries));
  }

  start(): void {
    this.stopped = false;
    this.metrics.setWebhookQueueProbe({
      depth: () => this.deliveries.countDocuments({ status: 'pending' }).exec(),
      oldestAgeSeconds: async () => {
        const oldest = await this.deliveries
          .findOne({ status: 'pending' })
          .sort({ createdAt: 1 })
          .select({ createdAt: 1 })
          .lean<{ createdAt: Date }>()
          .exec();
        return oldest ? Math.max(0, (this.clock.now() - oldest.createdAt.getTime()) / 1000) : 0;
      },
    });
    this.schedule(0);
  }

  /** Something was recorded on this node: look now rather than at the next poll. */
  wake(): void {
    this.schedule(0);
  }

  /** Stops claiming; attempts in flight are cut and their deliveries put back for any node. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const controller of this.controllers) controller.abort();
    const deadline = monotonicMs() + 5000;
    while ((this.inFlight > 0 || this.polling) && monotonicMs() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.polling) {
      if (ms === 0) this.again = true;
      return;
    }
    if (this.timer && ms > 0) return;
    // Work announced right after a claim found none is coalesced, so that a burst of records and
    // completions does not become a burst of claims that scan for nothing.
    const delay = Math.max(ms, this.lastEmptyPoll + MIN_EMPTY_POLL_GAP_MS - monotonicMs());
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), delay);
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    this.polling = true;
    try {
      while (!this.stopped && this.inFlight < this.options.maxInFlight) {
        const claimed = await this.claim();
        if (!claimed) {
          this.lastEmptyPoll = monotonicMs();
          break;
        }
        this.begin(claimed);
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'webhook claim failed');
    } finally {
      this.polling = false;
      const again = this.again;
      this.again = false;
      this.schedule(again ? 0 : POLL_MS);
    }
  }

  /**
   * One due delivery, claimed atomically, of a webhook with room on this node and of a lead with
   * nothing in flight from it. Deliveries held back behind an earlier one of their lead are parked
   * (not due), so what is due is mostly the head of each lead's queue, and a claim scans little.
   */
  private async claim(): Promise<DeliveryDoc | null> {
    const now = this.clock.now();
    const filter: Record<string, unknown> = { status: 'pending', dueAt: { $lte: new Date(now) } };
    const saturated = [...this.perWebhook].filter(([, n]) => n >= this.options.maxInFlightPerWebhook).map(([id]) => id);
    if (saturated.length > 0) filter['webhookId'] = { $nin: saturated };
    const busy = [...this.busyLanes.keys()].slice(0, 500);
    if (busy.length > 0) filter['lane'] = { $nin: busy };
    const lease = `${this.nodeId}:${++this.claims}`;
    return this.deliveries
      .findOneAndUpdate(
        filter,
        { $set: { lease, dueAt: new Date(now + this.options.timeoutMs + LEASE_MARGIN_MS) } },
        { sort: { dueAt: 1 }, returnDocument: 'after' },
      )
      .lean<DeliveryDoc>()
      .exec();
  }

  private begin(delivery: DeliveryDoc): void {
    this.inFlight++;
    this.perWebhook.set(delivery.webhookId, (this.perWebhook.get(delivery.webhookId) ?? 0) + 1);
    if (delivery.lane) this.busyLanes.set(delivery.lane, (this.busyLanes.get(delivery.lane) ?? 0) + 1);
    this.metrics.webhookInFlight.set(this.inFlight);
    this.process(delivery)
      .catch((error: unknown) => {
        this.logger.warn({ err: error, delivery: delivery._id }, 'webhook delivery failed');
        return false;
      })
      .then((done) => (done && delivery.lane && !this.stopped ? this.claimNextInLane(delivery) : null))
      .catch((error: unknown) => {
        this.logger.warn({ err: error }, 'webhook claim failed');
        return null;
      })
      .then((next) => {
        this.inFlight--;
        const left = (this.perWebhook.get(delivery.webhookId) ?? 1) - 1;
        if (left > 0) this.perWebhook.set(delivery.webhookId, left);
        else this.perWebhook.delete(delivery.webhookId);
        if (delivery.lane) {
          const lane = (this.busyLanes.get(delivery.lane) ?? 1) - 1;
          if (lane > 0) this.busyLanes.set(delivery.lane, lane);
          else this.busyLanes.delete(delivery.lane);
        }
        this.metrics.webhookInFlight.set(this.inFlight);
        this.wakeWaiters(delivery._id);
        if (next) this.begin(next);
        this.wake();
      })
      .catch((error: unknown) => this.logger.error({ err: error }, 'webhook worker bookkeeping failed'));
  }

  /**
   * After a delivery of a lead is done, the lead's next one goes at once from here, also when it
   * was put back behind the one just done by another node (which would otherwise look again only
   * after RECHECK_MS): a lead's events flow from one node without waiting. One in its retry
   * schedule keeps its time.
   */
  private claimNextInLane(done: DeliveryDoc): Promise<DeliveryDoc | null> {
    const now = this.clock.now();
    return this.deliveries
      .findOneAndUpdate(
        {
          webhookId: done.webhookId,
          lane: done.lane,
          status: 'pending',
          lease: { $exists: false },
          $or: [{ round: 0 }, { dueAt: { $lte: new Date(now) } }],
        },
        {
          $set: {
            lease: `${this.nodeId}:${++this.claims}`,
            dueAt: new Date(now + this.options.timeoutMs + LEASE_MARGIN_MS),
          },
        },
        { sort: { order: 1 }, returnDocument: 'after' },
      )
      .lean<DeliveryDoc>()
      .exec();
  }

  /** Sends one claimed delivery; true when it is done (delivered or failed), freeing its lead's next. */
  private async process(delivery: DeliveryDoc): Promise<boolean> {
    const webhook = await this.directory.webhook(delivery.projectId, delivery.webhookId);
    if (!webhook) {
      // Deleted with its deliveries; this one was recorded from a view a moment old.
      await this.deliveries.deleteOne({ _id: delivery._id, lease: delivery.lease }).exec();
      return false;
    }
    if (!webhook.active && delivery.eventType !== WEBHOOK_TEST_EVENT) {
      await this.finish(delivery, 'failed', { lastError: 'the webhook is turned off' });
      return true;
    }
    if (delivery.lane) {
      const earlier = await this.deliveries
        .findOne({
          webhookId: delivery.webhookId,
          lane: delivery.lane,
          status: 'pending',
          order: { $lt: delivery.order },
        })
        .sort({ order: 1 })
        .select({ _id: 1, dueAt: 1, lease: 1 })
        .lean<Pick<DeliveryDoc, '_id' | 'dueAt' | 'lease'>>()
        .exec();
      if (earlier) {
        await this.waitBehind(delivery, earlier);
        return false;
      }
    }
    const result = await this.attempt(webhook, delivery);
    if (this.stopped && result.outcome !== 'success') {
      await this.putBack(delivery);
      return false;
    }
    return this.settle(webhook, delivery, result);
  }

  /**
   * Puts a delivery back until the earlier one of its lead is done. Whichever node finishes that
   * one sends this one next (claimNextInLane), so it is parked; one that was tried before (a
   * redelivery went ahead of it) waits for its own next attempt, or the earlier one's.
   */
  private async waitBehind(
    delivery: DeliveryDoc,
    earlier: Pick<DeliveryDoc, '_id' | 'dueAt' | 'lease'>,
  ): Promise<void> {
    const now = this.clock.now();
    const earlierDue = earlier.dueAt?.getTime() ?? now;
    const dueAt = delivery.round === 0 ? now + PARK_MS : Math.max(earlierDue, now + RECHECK_MS);
    await this.updates.updateOne(
      { _id: delivery._id, lease: delivery.lease },
      { $set: { dueAt: new Date(dueAt) }, $unset: { lease: '' } },
    );
    const list = this.waiters.get(earlier._id) ?? [];
    if (this.waiters.size < 10_000) this.waiters.set(earlier._id, [...list, delivery._id]);
    // The earlier one may have finished between the check and the parking, its node then finding
    // this one still claimed: looked at again now, so that it never waits for nothing.
    const stillPending = await this.deliveries.exists({ _id: earlier._id, status: 'pending' }).exec();
    if (!stillPending) this.wakeWaiters(earlier._id);
  }

  private wakeWaiters(deliveryId: string): void {
    const waiting = this.waiters.get(deliveryId);
    if (!waiting) return;
    this.waiters.delete(deliveryId);
    this.deliveries
      .updateMany(
        { _id: { $in: waiting }, status: 'pending', lease: { $exists: false } },
        { $set: { dueAt: this.clock.date() } },
      )
      .exec()
      .then(
        () => this.wake(),
        (error: unknown) => this.logger.warn({ err: error }, 'could not wake webhook deliveries'),
      );
  }

  private async attempt(webhook: WebhookDoc, delivery: DeliveryDoc): Promise<AttemptResult> {
    const timestamp = this.clock.seconds();
    const headers = {
      'webhook-id': delivery.eventId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(
        signingSecrets(webhook, this.clock.date()),
        delivery.eventId,
        timestamp,
        delivery.body,
      ),
    };
    const controller = new AbortController();
    this.controllers.add(controller);
    try {
      const result = await this.sender.send({ url: webhook.url, headers, body: delivery.body }, controller.signal);
      this.metrics.webhookAttempts.inc({ result: result.outcome });
      this.metrics.webhookAttemptDuration.observe(result.durationMs / 1000);
      return result;
    } finally {
      this.controllers.delete(controller);
    }
  }

  /** Records an attempt: delivered, or the next attempt scheduled, or failed for good (true when done). */
  private async settle(webhook: WebhookDoc, delivery: DeliveryDoc, result: AttemptResult): Promise<boolean> {
    const answer = {
      ...(result.statusCode !== undefined ? { lastStatusCode: result.statusCode } : {}),
      ...(result.error ? { lastError: result.error } : {}),
      ...(result.responseBody ? { lastResponseBody: result.responseBody } : {}),
    };
    if (result.outcome === 'success') {
      await this.finish(delivery, 'delivered', answer, true);
      await this.markHealthy(webhook);
      return true;
    }
    const gone = result.statusCode === 410;
    const round = delivery.round + 1;
    const delay = this.options.retryDelaysMs[round - 1];
    if (gone || delay === undefined) {
      await this.finish(delivery, 'failed', answer, true);
    } else {
      // Jitter spreads the retries of many deliveries that failed together (a receiver's outage).
      const dueAt = new Date(this.clock.now() + Math.round(delay * (0.8 + Math.random() * 0.4)));
      await this.updates.updateOne(
        { _id: delivery._id, lease: delivery.lease },
        {
          $set: { dueAt, ...answer },
          $inc: { attempts: 1, round: 1 },
          $unset: { lease: '', ...unsetMissing(answer) },
        },
      );
    }
    if (gone) await this.deactivate(webhook, 'gone');
    else await this.markFailing(webhook);
    return gone || delay === undefined;
  }

  private async finish(
    delivery: DeliveryDoc,
    status: 'delivered' | 'failed',
    answer: { lastStatusCode?: number; lastError?: string; lastResponseBody?: string },
    attempted = false,
  ): Promise<void> {
    const now = this.clock.date();
    await this.updates.updateOne(
      { _id: delivery._id, lease: delivery.lease },
      {
        $set: {
          status,
          expiresAt: new Date(now.getTime() + RETENTION_MS),
          ...(status === 'delivered' ? { deliveredAt: now } : {}),
          ...answer,
        },
        ...(attempted ? { $inc: { attempts: 1, round: 1 } } : {}),
        $unset: { lease: '', dueAt: '', ...unsetMissing(answer) },
      },
    );
    this.metrics.webhookDeliveries.inc({ status });
  }

  /** Shutting down: the claim is given back at once, for any node, and the attempt not counted. */
  private async putBack(delivery: DeliveryDoc): Promise<void> {
    await this.updates.updateOne(
      { _id: delivery._id, lease: delivery.lease },
      { $set: { dueAt: this.clock.date() }, $unset: { lease: '' } },
    );
  }

  private async markHealthy(webhook: WebhookDoc): Promise<void> {
    const memo = this.health.get(webhook._id);
    if (memo && !memo.failing && monotonicMs() - memo.at < HEALTH_MEMO_MS) return;
    await this.webhooks
      .updateOne({ _id: webhook._id, failingSince: { $exists: true } }, { $unset: { failingSince: '' } })
      .exec();
    this.health.set(webhook._id, { failing: false, at: monotonicMs() });
  }

  /** Notes that the webhook fails; turns it off once it has failed everything for `disableAfterMs`. */
  private async markFailing(webhook: WebhookDoc): Promise<void> {
    const now = this.clock.date();
    const memo = this.health.get(webhook._id);
    if (!memo || !memo.failing || monotonicMs() - memo.at >= HEALTH_MEMO_MS) {
      await this.webhooks
        .updateOne({ _id: webhook._id, failingSince: { $exists: false } }, { $set: { failingSince: now } })
        .exec();
      this.health.set(webhook._id, { failing: true, at: monotonicMs() });
    }
    await this.deactivate(webhook, 'failing', {
      failingSince: { $lte: new Date(now.getTime() - this.options.disableAfterMs) },
    });
  }

  /**
   * Turns the webhook off (once, whichever node gets there: the update is conditional), fails its
   * waiting deliveries and tells the project's agents.
   */
  private async deactivate(
    webhook: WebhookDoc,
    reason: WebhookDisabledReason,
    condition: Record<string, unknown> = {},
  ): Promise<void> {
    const now = this.clock.date();
    const updated = await this.webhooks
      .findOneAndUpdate(
        { _id: webhook._id, active: true, ...condition },
        { $set: { active: false, disabledReason: reason, disabledAt: now, updatedAt: now } },
        { returnDocument: 'after' },
      )
      .lean<WebhookDoc>()
      .exec();
    if (!updated) return;
    this.directory.forget(webhook.projectId);
    this.logger.warn({ webhook: webhook._id, project: webhook.projectId, reason }, 'webhook turned off');
    const failed = await this.deliveries
      .updateMany(
        { webhookId: webhook._id, status: 'pending', lease: { $exists: false } },
        {
          $set: {
            status: 'failed',
            lastError: 'the webhook was turned off',
            expiresAt: new Date(now.getTime() + RETENTION_MS),
          },
          $unset: { dueAt: '' },
        },
      )
      .exec();
    if (failed.modifiedCount > 0) this.metrics.webhookDeliveries.inc({ status: 'failed' }, failed.modifiedCount);
    await this.bus.publish('webhook.disabled', { webhook: toWebhook(updated), reason });
  }
}

/** Fields of the last answer this attempt did not have: the previous attempt's values must not linger. */
function unsetMissing(answer: Record<string, unknown>): Record<string, ''> {
  const unset: Record<string, ''> = {};
  for (const field of ['lastStatusCode', 'lastError', 'lastResponseBody']) if (!(field in answer)) unset[field] = '';
  return unset;
}
