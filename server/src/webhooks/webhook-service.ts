import type {
  Webhook,
  WebhookCreatedResponse,
  WebhookDelivery,
  WebhookDeliveryPage,
  WebhookEventFilter,
  WebhookSecretRotatedResponse,
} from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import type { WebhookCreateInput, WebhookDeliveryListQuery, WebhookUpdateInput } from '@parley/protocol/schemas';
import { AppError, notFound } from '../errors';
import type { Clock } from '../infra/clock';
import { newId } from '../infra/ids';
import { rawCollection } from '../infra/raw-collection';
import type { ProjectService } from '../projects/project-service';
import type { DeliveryDoc, DeliveryModel } from './delivery-model';
import { DestinationRefused, type DestinationGuard } from './destination-guard';
import type { Outbox } from './outbox';
import type { WebhookDirectory } from './webhook-directory';
import type { WebhookDoc, WebhookModel } from './webhook-model';
import { newSecret } from './webhook-signer';
import { toDelivery, toWebhook } from './webhook-view';
import { decodeCursor, encodeCursor } from '../infra/page-cursor';

/** How long the previous secret keeps signing after a rotation. */
export const ROTATION_GRACE_MS = 24 * 3600 * 1000;

/**
 * A project's webhooks, for its owners and the admin token. Changes that decide what is recorded
 * (create, change, rotate) answer only once every node's directory holds them (see
 * WebhookDirectory.settle), so that nothing happening after the answer is missed.
 */
export class WebhookService {
  constructor(
    private readonly webhooks: WebhookModel,
    private readonly deliveries: DeliveryModel,
    private readonly directory: WebhookDirectory,
    private readonly guard: DestinationGuard,
    private readonly outbox: Outbox,
    private readonly projects: ProjectService,
    /** A previous secret's end and a redelivery's due time are judged by every node: the cluster's clock. */
    private readonly clock: Clock,
  ) {}

  async create(projectId: string, input: WebhookCreateInput): Promise<WebhookCreatedResponse> {
    await this.projects.get(projectId);
    await this.checkUrl(input.url);
    const count = await this.webhooks.countDocuments({ projectId }).exec();
    if (count >= LIMITS.webhooksPerProject)
      throw new AppError('CONFLICT', `A project may have at most ${LIMITS.webhooksPerProject} webhooks`);
    const now = this.clock.date();
    const secret = newSecret();
    const doc: WebhookDoc = {
      _id: newId(),
      projectId,
      url: input.url.trim(),
      events: [...new Set(input.events)] as WebhookEventFilter[],
      ...(input.description ? { description: input.description } : {}),
      active: true,
      secrets: [{ value: secret }],
      createdAt: now,
      updatedAt: now,
    };
    await rawCollection(this.webhooks).insertOne(doc);
    await this.settled(projectId);
    return { webhook: toWebhook(doc), secret };
  }

  async list(projectId: string): Promise<Webhook[]> {
    await this.projects.get(projectId);
    const docs = await this.webhooks.find({ projectId }).sort({ createdAt: 1 }).lean<WebhookDoc[]>().exec();
    return docs.map(toWebhook);
  }

  async get(projectId: string, webhookId: string): Promise<Webhook> {
    return toWebhook(await this.load(projectId, webhookId));
  }

  async update(projectId: string, webhookId: string, input: WebhookUpdateInput): Promise<Webhook> {
    await this.load(projectId, webhookId);
    if (input.url !== undefined) await this.checkUrl(input.url);
    const set: Record<string, unknown> = { updatedAt: this.clock.date() };
    const unset: Record<string, ''> = {};
    if (input.url !== undefined) set['url'] = input.url.trim();
    if (input.events !== undefined) set['events'] = [...new Set(input.events)];
    if (input.description === null) unset['description'] = '';
    else if (input.description !== undefined) set['description'] = input.description;
    if (input.active === true) {
      // Back on: a fresh start, its failing streak forgotten.
      set['active'] = true;
      Object.assign(unset, { disabledReason: '', disabledAt: '', failingSince: '' });
    } else if (input.active === false) set['active'] = false;
    const updated = await this.webhooks
      .findOneAndUpdate(
        { _id: webhookId, projectId },
        Object.keys(unset).length > 0 ? { $set: set, $unset: unset } : { $set: set },
        { returnDocument: 'after' },
      )
      .lean<WebhookDoc>()
      .exec();
    if (!updated) throw notFound('Webhook');
    await this.settled(projectId);
    return toWebhook(updated);
  }

  async remove(projectId: string, webhookId: string): Promise<void> {
    const deleted = await this.webhooks.deleteOne({ _id: webhookId, projectId }).exec();
    if (deleted.deletedCount === 0) throw notFound('Webhook');
    this.directory.forget(projectId);
    // A delivery recorded from a view a moment old is deleted by the worker that claims it.
    await this.deliveries.deleteMany({ webhookId }).exec();
  }

  async rotateSecret(projectId: string, webhookId: string): Promise<WebhookSecretRotatedResponse> {
    const webhook = await this.load(projectId, webhookId);
    const now = this.clock.date();
    const previousSecretExpiresAt = new Date(now.getTime() + ROTATION_GRACE_MS);
    const current = webhook.secrets[0];
    const secret = newSecret();
    const secrets = [
      { value: secret },
      ...(current ? [{ value: current.value, expiresAt: previousSecretExpiresAt }] : []),
    ];
    // Compare-and-set on the secret it replaces: two rotations at once cannot both keep "their" previous.
    const updated = await this.webhooks
      .updateOne(
        { _id: webhookId, projectId, 'secrets.0.value': current?.value },
        { $set: { secrets, updatedAt: now } },
      )
      .exec();
    if (updated.matchedCount === 0) throw new AppError('CONFLICT', 'The secret was rotated meanwhile; try again');
    await this.settled(projectId);
    return { secret, previousSecretExpiresAt: previousSecretExpiresAt.toISOString() };
  }

  async test(projectId: string, webhookId: string): Promise<WebhookDelivery> {
    const webhook = await this.load(projectId, webhookId);
    return toDelivery(await this.outbox.recordTest(webhook));
  }

  async deliveriesOf(
    projectId: string,
    webhookId: string,
    query: WebhookDeliveryListQuery,
  ): Promise<WebhookDeliveryPage> {
    await this.load(projectId, webhookId);
    const limit = query.limit ?? LIMITS.pageLimitDefault;
    const filter: Record<string, unknown> = { webhookId };
    // Held records are events on their way: listed as pending.
    if (query.status) filter['status'] = query.status === 'pending' ? { $in: ['pending', 'held'] } : query.status;
    if (query.cursor) {
      const { createdAt, id } = decodeCursor(query.cursor);
      filter['$or'] = [{ createdAt: { $lt: createdAt } }, { createdAt, _id: { $lt: id } }];
    }
    const docs = await this.deliveries
      .find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .limit(limit + 1)
      .select({ body: 0 })
      .lean<DeliveryDoc[]>()
      .exec();
    const page = docs.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toDelivery),
      nextCursor: docs.length > limit && last ? encodeCursor(last.createdAt, last._id) : null,
    };
  }

  /** Sends a delivery again, same `webhook-id`, with a fresh retry schedule. */
  async redeliver(projectId: string, webhookId: string, deliveryId: string): Promise<WebhookDelivery> {
    await this.load(projectId, webhookId);
    const updated = await this.deliveries
      .findOneAndUpdate(
        { _id: deliveryId, webhookId, status: { $in: ['delivered', 'failed'] } },
        {
          $set: { status: 'pending', dueAt: this.clock.date(), round: 0 },
          $unset: { expiresAt: '', deliveredAt: '' },
        },
        { returnDocument: 'after', projection: { body: 0 } },
      )
      .lean<DeliveryDoc>()
      .exec();
    if (updated) {
      this.outbox.wake();
      return toDelivery(updated);
    }
    const existing = await this.deliveries
      .findOne({ _id: deliveryId, webhookId })
      .select({ body: 0 })
      .lean<DeliveryDoc>()
      .exec();
    if (!existing) throw notFound('Delivery');
    // Pending already: it goes at its next attempt; asking again changes nothing.
    return toDelivery(existing);
  }

  private async load(projectId: string, webhookId: string): Promise<WebhookDoc> {
    const webhook = await this.webhooks.findOne({ _id: webhookId, projectId }).lean<WebhookDoc>().exec();
    if (!webhook) throw notFound('Webhook');
    return webhook;
  }

  private async checkUrl(url: string): Promise<void> {
    try {
      await this.guard.check(url);
    } catch (error) {
      if (!(error instanceof DestinationRefused)) throw error;
      throw new AppError('BAD_REQUEST', `The webhook URL is refused: ${error.message}`, {
        fields: [{ field: 'url', message: error.message }],
      });
    }
  }

  private async settled(projectId: string): Promise<void> {
    this.directory.forget(projectId);
    await this.directory.settle();
  }
}
