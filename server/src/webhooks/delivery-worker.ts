import { randomBytes } from 'node:crypto';
import { WEBHOOK_TEST_EVENT, type WebhookDisabledReason } from '@parley/protocol';
import type { WebhookConfig } from '../config';
import { monotonicMs, type Clock } from '../infra/clock';
import type { EventBus } from '../infra/event-bus';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import { HAS_DUE_AT, type DeliveryDoc, type DeliveryModel } from './delivery-model';
import type { WebhookDirectory } from './webhook-directory';
import type { WebhookDoc, WebhookModel } from './webhook-model';
import type { AttemptResult, WebhookSender } from './webhook-sender';
import { signatureHeader, signingSecrets } from './webhook-signer';
import { UpdateBatcher } from './update-batcher';
import { rawCollection } from '../infra/raw-collection';
import { IDLE_GAUGE, type LoadGauge } from '../infra/load-gauge';
import { toWebhook } from './webhook-view';
import { laneRun, MAX_RUN, parkedUntil } from './lane-runs';

/** A claim outlives the longest attempt by this much, so that a live worker never loses its claim. */
const LEASE_MARGIN_MS = 5000;
/** How often an idle worker looks for due deliveries written by other nodes. */
const POLL_MS = 500;
/** How soon a delivery held back behind one in its retry schedule looks again, at the earliest. */
const RECHECK_MS = 1000;
/**
 * How long a delivery held back behind one in flight waits at most: the node that finishes that one
 * sends it next (sendLane), so this only bounds a wait whose waker failed.
 */
const PARK_MS = 60_000;
/**
 * While messages keep the node busy, deliveries give way: one run is claimed this often at most (a
 * trickle that bounds how long a backlog waits), and a lane is not followed past its run.
 */
const BUSY_CLAIM_GAP_MS = 1000;
/** How soon a worker giving way looks again whether the node is still busy. */
const BUSY_RECHECK_MS = 100;
/** Due deliveries read per claim, to pick lanes from. */
const CANDIDATES = 64;
/** A run's lease is renewed before an attempt that would start this long after it was taken or renewed. */
const RENEW_AFTER_MS = LEASE_MARGIN_MS - 1000;
/** Claims that found nothing are not repeated more often than this, however often work is announced. */
const MIN_EMPTY_POLL_GAP_MS = 50;
/** How long finished deliveries stay in the log. */
export const RETENTION_MS = 30 * 24 * 3600 * 1000;
/** How long a node trusts what it last wrote about a webhook's health before writing it again. */
const HEALTH_MEMO_MS = 60_000;

/** Deliveries of one lane (or one of no lane) claimed together under one lease, sent in order. */
interface Run {
  deliveries: DeliveryDoc[];
  lease: string;
  /** When the lease was taken or last renewed (this node's monotonic clock). */
  renewedAt: number;
}

type WorkerOptions = Pick<
  WebhookConfig,
  'retryDelaysMs' | 'timeoutMs' | 'disableAfterMs' | 'maxInFlight' | 'maxInFlightPerWebhook'
>;

/**
 * Sends deliveries. Every node runs one; they share the work through the database alone:
 * - deliveries are claimed in runs: up to MAX_RUN at the head of one lane (a lead, for one
 *   webhook), taken by one conditional update that sets a lease shared by the run (`lease`, and
 *   `dueAt` moved to the lease's end) on each delivery that is free or whose lease ran out, so two
 *   nodes never send the same attempt, and a node that dies holding a claim lets it go when the
 *   lease ends (another node then sends it again, with the same `webhook-id`); a run that goes on
 *   renews its lease before each attempt that could outlast it;
 * - a lead's events leave in order for each webhook: a run is its lane's head, sent one after
 *   another from one node; a failing delivery gives the rest of its run back to wait behind it (it
 *   holds back its lead's later ones, nobody else's); deliveries found due behind a head in flight
 *   elsewhere are parked until that node continues the lane;
 * - requests in flight are bounded on each node, in all and per webhook (a run has one request in
 *   flight at a time): a slow receiver fills its own share and is not claimed for beyond it.
 */
export class DeliveryWorker {
  /** Names this node's claims, so that it can tell its own from others'. */
  private readonly nodeId = `${process.pid}:${randomBytes(4).toString('hex')}`;
  private claims = 0;
  private inFlight = 0;
  private readonly perWebhook = new Map<string, number>();
  /** Lanes with a run in flight from this node: their next ones follow it (sendLane), not a claim. */
  private readonly busyLanes = new Map<string, number>();
  private readonly controllers = new Set<AbortController>();
  private readonly health = new Map<string, { failing: boolean; at: number }>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private again = false;
  private lastEmptyPoll = 0;
  /** When this node last claimed while busy (see BUSY_CLAIM_GAP_MS). */
  private lastBusyClaim = 0;
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
    /** Whether messages are keeping this node busy: deliveries then give way (see LoadGauge). */
    private readonly load: Pick<LoadGauge, 'busy'> = IDLE_GAUGE,
  ) {
    this.updates = new UpdateBatcher(rawCollection(deliveries));
  }

  start(): void {
    this.stopped = false;
    this.metrics.setWebhookQueueProbe({
      depth: () => this.deliveries.countDocuments({ status: 'pending', dueAt: HAS_DUE_AT }).exec(),
      oldestAgeSeconds: async () => {
        const oldest = await this.deliveries
          .findOne({ status: 'pending', dueAt: HAS_DUE_AT })
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
    let busy = this.load.busy();
    if (busy && monotonicMs() - this.lastBusyClaim < BUSY_CLAIM_GAP_MS) {
      this.schedule(BUSY_RECHECK_MS);
      return;
    }
    this.polling = true;
    try {
      while (!this.stopped && this.inFlight < this.options.maxInFlight) {
        if (busy) this.lastBusyClaim = monotonicMs();
        const runs = await this.claim(busy ? 1 : this.options.maxInFlight - this.inFlight);
        busy = this.load.busy();
        if (runs.length === 0) {
          this.lastEmptyPoll = monotonicMs();
          break;
        }
        for (const run of runs) this.begin(run);
        if (busy) break;
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
   * Runs of due deliveries, each claimed under one lease: for as many lanes as this node has room
   * for (in all and per webhook; none it is sending already), the deliveries at the lane's head, in
   * order (see laneRun). One read finds what is due, one reads those lanes, one update claims them
   * all: a few round trips for up to MAX_RUN deliveries a lane, not a claim and a check each.
   * Deliveries found due behind a lane head that cannot go are parked (see parkedUntil), so that
   * what is due is mostly the heads of lanes, and a claim scans little.
   */
  private async claim(room: number): Promise<Run[]> {
    const now = this.clock.now();
    const filter: Record<string, unknown> = { status: 'pending', dueAt: { $lte: new Date(now) } };
    const saturated = [...this.perWebhook].filter(([, n]) => n >= this.options.maxInFlightPerWebhook).map(([id]) => id);
    if (saturated.length > 0) filter['webhookId'] = { $nin: saturated };
    const busy = [...this.busyLanes.keys()].slice(0, 500);
    if (busy.length > 0) filter['lane'] = { $nin: busy };
    const due = await this.deliveries
      .find(filter)
      .sort({ dueAt: 1 })
      .limit(CANDIDATES)
      .select({ _id: 1, webhookId: 1, lane: 1 })
      .lean<Pick<DeliveryDoc, '_id' | 'webhookId' | 'lane'>[]>()
      .exec();
    if (due.length === 0) return [];
    // Units of work within this node's room: a lane (its run), or a delivery of no lane.
    const perWebhook = new Map(this.perWebhook);
    const lanes = new Map<string, string>();
    const loose: string[] = [];
    for (const delivery of due) {
      if (room <= 0) break;
      if (delivery.lane && (lanes.has(delivery.lane) || this.busyLanes.has(delivery.lane))) continue;
      const taken = perWebhook.get(delivery.webhookId) ?? 0;
      if (taken >= this.options.maxInFlightPerWebhook) continue;
      perWebhook.set(delivery.webhookId, taken + 1);
      room--;
      if (delivery.lane) lanes.set(delivery.lane, delivery.webhookId);
      else loose.push(delivery._id);
    }
    const wanted: (DeliveryDoc | string)[][] = lanes.size > 0 ? await this.laneRuns(lanes, now) : [];
    if (loose.length > 0) wanted.push(...loose.map((id) => [id]));
    return this.claimRuns(wanted, now);
  }

  /** The runs at the heads of these lanes (as delivery documents); parks what is due behind a blocked head. */
  private async laneRuns(lanes: Map<string, string>, now: number): Promise<DeliveryDoc[][]> {
    const filter = {
      webhookId: { $in: [...new Set(lanes.values())] },
      lane: { $in: [...lanes.keys()] },
      status: 'pending' as const,
    };
    // One lane (a run followed): its head only, however long its queue (a receiver back from an
    // outage); several: all their pending deliveries in one read (few each, but for such a lane).
    const query = this.deliveries.find(filter);
    if (lanes.size === 1) query.sort({ order: 1 }).limit(MAX_RUN);
    const pending = await query.lean<DeliveryDoc[]>().exec();
    const byLane = new Map<string, DeliveryDoc[]>();
    for (const delivery of pending) byLane.set(delivery.lane, [...(byLane.get(delivery.lane) ?? []), delivery]);
    const runs: DeliveryDoc[][] = [];
    for (const list of byLane.values()) {
      const { run, blocker } = laneRun(list, now);
      if (run.length > 0) runs.push(run);
      else if (blocker) this.park(list, blocker, now);
    }
    return runs;
  }

  /** Puts off the due deliveries waiting behind `blocker` (see parkedUntil). */
  private park(lane: DeliveryDoc[], blocker: DeliveryDoc, now: number): void {
    for (const delivery of lane) {
      if (delivery === blocker || delivery.lease || (delivery.dueAt?.getTime() ?? 0) > now) continue;
      const dueAt = parkedUntil(delivery, blocker, now, { parkMs: PARK_MS, recheckMs: RECHECK_MS });
      this.updates
        .updateOne(
          { _id: delivery._id, status: 'pending', lease: { $exists: false }, dueAt: delivery.dueAt },
          { $set: { dueAt: new Date(dueAt) } },
        )
        .catch((error: unknown) => this.logger.warn({ err: error }, 'could not park a webhook delivery'));
    }
  }

  /**
   * Claims these runs (delivery documents, or ids of deliveries of no lane) with one update under
   * one lease: a delivery is taken only if it is free or its lease ran out, atomically, so two
   * nodes never hold the same one. When another node got some first, each run keeps the part it
   * got from its start on; what it got past a gap is given back (order: a lane's deliveries leave
   * from one node, one after another).
   */
  private async claimRuns(wanted: (DeliveryDoc | string)[][], now: number): Promise<Run[]> {
    const ids = wanted.flat().map((d) => (typeof d === 'string' ? d : d._id));
    if (ids.length === 0) return [];
    const lease = `${this.nodeId}:${++this.claims}`;
    const leaseEnd = new Date(now + this.options.timeoutMs + LEASE_MARGIN_MS);
    const collection = rawCollection(this.deliveries);
    const claimed = await collection.updateMany(
      {
        _id: { $in: ids },
        status: 'pending',
        $or: [{ lease: { $exists: false } }, { dueAt: { $lte: new Date(now) } }],
      } as never,
      { $set: { lease, dueAt: leaseEnd } },
    );
    const loose = wanted.filter((run) => typeof run[0] === 'string').flat() as string[];
    const fetched =
      loose.length > 0 || claimed.modifiedCount < ids.length
        ? await this.deliveries
            .find({ _id: { $in: claimed.modifiedCount < ids.length ? ids : loose }, lease })
            .lean<DeliveryDoc[]>()
            .exec()
        : [];
    const got = new Map(fetched.map((d) => [d._id, d]));
    const all = claimed.modifiedCount === ids.length;
    const runs: Run[] = [];
    const giveBack: string[] = [];
    for (const wantedRun of wanted) {
      const deliveries: DeliveryDoc[] = [];
      for (const wantedDelivery of wantedRun) {
        const id = typeof wantedDelivery === 'string' ? wantedDelivery : wantedDelivery._id;
        const mine = typeof wantedDelivery === 'string' || !all ? got.get(id) : wantedDelivery;
        if (mine && deliveries.length === wantedRun.indexOf(wantedDelivery))
          deliveries.push({ ...mine, lease, dueAt: leaseEnd });
        else if (mine) giveBack.push(id);
      }
      if (deliveries.length > 0) runs.push({ deliveries, lease, renewedAt: monotonicMs() });
    }
    if (giveBack.length > 0) await this.putBack(giveBack, lease, this.clock.date());
    return runs;
  }

  /** A run is sent from here; once its lane is free, the lane's next run follows from the same slot. */
  private begin(run: Run): void {
    const first = run.deliveries[0] as DeliveryDoc;
    const { webhookId, lane } = first;
    this.inFlight++;
    this.perWebhook.set(webhookId, (this.perWebhook.get(webhookId) ?? 0) + 1);
    if (lane) this.busyLanes.set(lane, (this.busyLanes.get(lane) ?? 0) + 1);
    this.metrics.webhookInFlight.set(this.inFlight);
    this.sendLane(run)
      .catch((error: unknown) => this.logger.warn({ err: error, delivery: first._id }, 'webhook delivery failed'))
      .then(() => {
        this.inFlight--;
        const left = (this.perWebhook.get(webhookId) ?? 1) - 1;
        if (left > 0) this.perWebhook.set(webhookId, left);
        else this.perWebhook.delete(webhookId);
        if (lane) {
          const busy = (this.busyLanes.get(lane) ?? 1) - 1;
          if (busy > 0) this.busyLanes.set(lane, busy);
          else this.busyLanes.delete(lane);
        }
        this.metrics.webhookInFlight.set(this.inFlight);
        this.wake();
      })
      .catch((error: unknown) => this.logger.error({ err: error }, 'webhook worker bookkeeping failed'));
  }

  /**
   * Sends a run, then, while its lane is free, the lane's next run: a lead's events flow from one
   * node without waiting for a poll. (Deliveries recorded meanwhile were parked by other nodes
   * behind this one, or left due: either way they are claimable here.)
   */
  private async sendLane(first: Run): Promise<void> {
    let run: Run | undefined = first;
    while (run) {
      const free = await this.send(run);
      const head = run.deliveries[0] as DeliveryDoc;
      if (!free || !head.lane) return;
      if (this.stopped || this.load.busy()) {
        // Not followed from here: what other nodes parked behind this run is due again, for any
        // node's next claim (else it would wait PARK_MS).
        await this.unpark(head);
        return;
      }
      const lanes = new Map([[head.lane, head.webhookId]]);
      const now = this.clock.now();
      const [next] = await this.claimRuns(await this.laneRuns(lanes, now), now);
      run = next;
    }
  }

  /** Makes the never-tried deliveries parked in this delivery's lane due now. */
  private async unpark(head: DeliveryDoc): Promise<void> {
    const now = this.clock.date();
    await rawCollection(this.deliveries).updateMany(
      {
        webhookId: head.webhookId,
        lane: head.lane,
        status: 'pending',
        lease: { $exists: false },
        round: 0,
        dueAt: { $gt: now },
      } as never,
      { $set: { dueAt: now } },
    );
  }

  /**
   * Sends a run's deliveries one after another; true when all are done (delivered or failed for
   * good), freeing the lane. A delivery that must wait (its next attempt) holds back the rest,
   * which are given back to wait with it. The lease is renewed while the run goes on, so that it
   * always outlives the attempt about to start.
   */
  private async send(run: Run): Promise<boolean> {
    const writes: Promise<void>[] = [];
    try {
      for (let i = 0; i < run.deliveries.length; i++) {
        const delivery = run.deliveries[i] as DeliveryDoc;
        const rest = run.deliveries.slice(i).map((d) => d._id);
        if (this.stopped) {
          await this.putBack(rest, run.lease, this.clock.date());
          return false;
        }
        if (monotonicMs() - run.renewedAt > RENEW_AFTER_MS && !(await this.renew(run, rest))) return false;
        const outcome = await this.process(delivery, writes);
        if (outcome.done) continue;
        if (i + 1 < run.deliveries.length)
          await this.putBack(
            run.deliveries.slice(i + 1).map((d) => d._id),
            run.lease,
            outcome.retryAt,
          );
        return false;
      }
      return true;
    } finally {
      // The lane is looked at again only once its outcomes are stored.
      await Promise.allSettled(writes);
    }
  }

  /** Extends the run's lease; false (and what is left given back) if some of it was lost. */
  private async renew(run: Run, ids: string[]): Promise<boolean> {
    const leaseEnd = new Date(this.clock.now() + this.options.timeoutMs + LEASE_MARGIN_MS);
    const renewed = await rawCollection(this.deliveries).updateMany({ _id: { $in: ids }, lease: run.lease } as never, {
      $set: { dueAt: leaseEnd },
    });
    run.renewedAt = monotonicMs();
    if (renewed.modifiedCount === ids.length) return true;
    await this.putBack(ids, run.lease, this.clock.date());
    return false;
  }

  /**
   * Sends one claimed delivery: done (delivered or failed for good, or gone with its webhook), or
   * not, with when its next attempt is due. Its outcome's write joins `writes`.
   */
  private async process(delivery: DeliveryDoc, writes: Promise<void>[]): Promise<{ done: boolean; retryAt: Date }> {
    const webhook = await this.directory.webhook(delivery.projectId, delivery.webhookId);
    if (!webhook) {
      // Deleted with its deliveries; this one was recorded from a view a moment old.
      writes.push(
        this.deliveries
          .deleteOne({ _id: delivery._id, lease: delivery.lease })
          .exec()
          .then(() => undefined),
      );
      return { done: true, retryAt: this.clock.date() };
    }
    if (!webhook.active && delivery.eventType !== WEBHOOK_TEST_EVENT) {
      writes.push(this.finish(delivery, 'failed', { lastError: 'the webhook is turned off' }));
      return { done: true, retryAt: this.clock.date() };
    }
    const result = await this.attempt(webhook, delivery);
    if (this.stopped && result.outcome !== 'success') {
      await this.putBack([delivery._id], delivery.lease as string, this.clock.date());
      return { done: false, retryAt: this.clock.date() };
    }
    return this.settle(webhook, delivery, result, writes);
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
  private async settle(
    webhook: WebhookDoc,
    delivery: DeliveryDoc,
    result: AttemptResult,
    writes: Promise<void>[],
  ): Promise<{ done: boolean; retryAt: Date }> {
    const answer = {
      ...(result.statusCode !== undefined ? { lastStatusCode: result.statusCode } : {}),
      ...(result.error ? { lastError: result.error } : {}),
      ...(result.responseBody ? { lastResponseBody: result.responseBody } : {}),
    };
    const now = this.clock.date();
    if (result.outcome === 'success') {
      // Not waited for here: the run's next delivery goes at once (the run waits for them all at
      // its end). A crash before it is stored sends it again, before the lane's later ones.
      writes.push(this.finish(delivery, 'delivered', answer, true));
      await this.markHealthy(webhook);
      return { done: true, retryAt: now };
    }
    const gone = result.statusCode === 410;
    const round = delivery.round + 1;
    const delay = this.options.retryDelaysMs[round - 1];
    let retryAt = now;
    if (gone || delay === undefined) {
      await this.finish(delivery, 'failed', answer, true);
    } else {
      // Jitter spreads the retries of many deliveries that failed together (a receiver's outage).
      retryAt = new Date(this.clock.now() + Math.round(delay * (0.8 + Math.random() * 0.4)));
      await this.updates.updateOne(
        { _id: delivery._id, lease: delivery.lease },
        {
          $set: { dueAt: retryAt, ...answer },
          $inc: { attempts: 1, round: 1 },
          $unset: { lease: '', ...unsetMissing(answer) },
        },
      );
    }
    if (gone) await this.deactivate(webhook, 'gone');
    else await this.markFailing(webhook);
    return { done: gone || delay === undefined, retryAt };
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

  /**
   * Gives claimed deliveries back, due at `dueAt`, for any node (shutting down, the rest of a run
   * behind a delivery that must wait, a claim past a gap); the attempt is not counted.
   */
  private async putBack(ids: string[], lease: string, dueAt: Date): Promise<void> {
    await rawCollection(this.deliveries).updateMany({ _id: { $in: ids }, lease } as never, {
      $set: { dueAt },
      $unset: { lease: '' },
    });
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
