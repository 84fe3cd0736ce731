import { monotonicMs } from '../infra/clock';
import type { WebhookDoc, WebhookModel } from './webhook-model';
import { wants } from './webhook-events';

/** How old a node's view of a project's webhooks may be. */
export const DIRECTORY_TTL_MS = 1000;
const MAX_PROJECTS = 10_000;

/**
 * Each node's view of which webhooks each project has, read at most once a second per project
 * while events happen, so that an event of a project without webhooks costs no database work.
 *
 * Its age is bounded, and a change to webhooks (create, change, rotate) answers only once that
 * bound has passed (`settle`): from the moment the owner is told a webhook exists, every node's
 * view holds it, and every event that happens later is recorded for it. (A view is as old as the
 * moment its read was sent, not the moment it came back.)
 */
export class WebhookDirectory {
  private readonly cache = new Map<string, { readAt: number; webhooks: Promise<WebhookDoc[]> }>();

  constructor(
    private readonly webhooks: WebhookModel,
    /** A view's age is this node's own business: measured on the monotonic clock. */
    private readonly now: () => number = monotonicMs,
  ) {}

  /** Every webhook of the project, active or not, oldest first. */
  forProject(projectId: string): Promise<WebhookDoc[]> {
    const now = this.now();
    const cached = this.cache.get(projectId);
    if (cached && now - cached.readAt < DIRECTORY_TTL_MS) return cached.webhooks;
    if (this.cache.size >= MAX_PROJECTS) this.prune(now);
    const webhooks = this.webhooks.find({ projectId }).sort({ createdAt: 1 }).lean<WebhookDoc[]>().exec();
    const entry = { readAt: now, webhooks };
    this.cache.set(projectId, entry);
    // A failed read is not kept: the next event reads again.
    webhooks.catch(() => {
      if (this.cache.get(projectId) === entry) this.cache.delete(projectId);
    });
    return webhooks;
  }

  /** The active webhooks of the project that want `type`. */
  async subscribers(projectId: string, type: string): Promise<WebhookDoc[]> {
    return (await this.forProject(projectId)).filter((w) => w.active && wants(w.events, type));
  }

  async webhook(projectId: string, webhookId: string): Promise<WebhookDoc | undefined> {
    return (await this.forProject(projectId)).find((w) => w._id === webhookId);
  }

  /** This node's view is read again on its next use (the others' within DIRECTORY_TTL_MS). */
  forget(projectId: string): void {
    this.cache.delete(projectId);
  }

  /** Resolves once every node's view is younger than a change made before the call. */
  settle(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, DIRECTORY_TTL_MS));
  }

  private prune(now: number): void {
    for (const [projectId, entry] of this.cache)
      if (now - entry.readAt >= DIRECTORY_TTL_MS) this.cache.delete(projectId);
  }
}
