import type { ActivityRecordResult, EventTrackInput, PageViewInput } from '@parley/protocol';
import type { EventBus } from '../infra/event-bus';
import { newId } from '../infra/ids';
import type { Logger } from '../infra/logger';
import type { LeadService } from '../leads/lead-service';
import type { ActivityDoc, ActivityModel } from './activity-model';
import { toActivity } from './activity-view';
import type { LastSeenThrottle } from './last-seen';
import type { LiveVisitors } from './live-visitors';

/** Who reported it: the visitor, and the tab (socket) it came from. */
export interface ActivitySource {
  projectId: string;
  userId: string;
  tabId: string;
}

/**
 * Page views and custom events of visitors (issue 15). Each is stored on the visitor's contact,
 * capped per contact: past `maxPerLead` the oldest are deleted, so a contact's activity never grows
 * without bound. Browsing does not make a visitor a contact (that stays the pre-chat form's, a
 * conversation's or a sign-in's to do): a visitor without one keeps its activity under its user id
 * (`leadId: ''`, capped the same), and it joins the contact once one is made (`adopt`: on
 * `lead.created`, and when the contact's timeline is read, so that a crash in between loses
 * nothing; not on each page view, which would add a write to every one). Agents hear it live (`lead.activity`); the live list learns the
 * visitor's current page; `lastSeenAt` moves (throttled). Rate limits and the block gate are the
 * caller's (the visitor namespace).
 */
export class ActivityService {
  constructor(
    private readonly activities: ActivityModel,
    private readonly leads: LeadService,
    private readonly bus: EventBus,
    private readonly live: LiveVisitors,
    private readonly lastSeen: LastSeenThrottle,
    private readonly maxPerLead: number,
    private readonly logger: Logger,
  ) {}

  pageView(source: ActivitySource, input: PageViewInput): Promise<ActivityRecordResult> {
    return this.record(source, {
      kind: 'page_view',
      url: input.url,
      ...(input.title ? { title: input.title } : {}),
      ...(input.referrer ? { referrer: input.referrer } : {}),
    });
  }

  track(source: ActivitySource, input: EventTrackInput): Promise<ActivityRecordResult> {
    return this.record(source, {
      kind: 'event',
      name: input.name,
      ...(input.url ? { url: input.url } : {}),
      ...(input.props && Object.keys(input.props).length > 0 ? { props: input.props } : {}),
    });
  }

  private async record(
    source: ActivitySource,
    what: Pick<ActivityDoc, 'kind' | 'name' | 'url' | 'title' | 'referrer' | 'props'>,
  ): Promise<ActivityRecordResult> {
    const { projectId, userId } = source;
    // A merged-away visitor's activity goes to the contact it was merged into.
    const lead = await this.leads.findForUser(projectId, userId);
    const leadId = lead?._id ?? '';
    const doc: ActivityDoc = { _id: newId(), projectId, leadId, userId, ...what, createdAt: new Date() };
    await this.activities.create(doc);
    await this.trim(projectId, leadId ? { leadId } : { userId, leadId: '' });
    const activity = toActivity(doc);
    await this.bus.publish('lead.activity', { activity });
    // The live list and lastSeenAt are views of it: a failure there fails nothing the visitor sent.
    const page = what.kind === 'page_view' ? { url: what.url, title: what.title ?? '' } : {};
    await this.live
      .saw(projectId, userId, source.tabId, { ...(leadId ? { leadId } : {}), ...page })
      .catch((error: unknown) => this.logger.warn({ err: error }, 'could not update a live visitor'));
    await this.seen(projectId, userId, doc.createdAt);
    return { activityId: doc._id, createdAt: activity.createdAt };
  }

  /** `lastSeenAt` now, at most once per interval per visitor across nodes. */
  async seen(projectId: string, userId: string, at = new Date()): Promise<void> {
    try {
      if (!(await this.lastSeen.due(projectId, userId))) return;
      // A visitor without a contact yet: its first activity (which makes one) writes it.
      if (!(await this.leads.touch(projectId, userId, at))) await this.lastSeen.release(projectId, userId);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not record lastSeenAt');
    }
  }

  /** The activity these users had before they had a contact joins `leadId` (idempotent). */
  async adopt(projectId: string, userIds: string[], leadId: string): Promise<void> {
    const adopted = await this.activities
      .updateMany({ projectId, userId: { $in: userIds }, leadId: '' }, { $set: { leadId } })
      .exec();
    if (adopted.modifiedCount > 0) await this.trim(projectId, { leadId });
  }

  /**
   * Joins a new contact's earlier activity as soon as it is made (best effort: see `adopt`). The
   * contacts created together (an import's slice publishes hundreds of `lead.created` at once) are
   * looked up with one query for the few users that have activity waiting, instead of one write
   * per contact: an import of 10,000 rows made 10,000 writes here.
   */
  attach(bus: EventBus): () => void {
    let batch = new Map<string, Map<string, string>>();
    let timer: NodeJS.Immediate | undefined;
    const flush = () => {
      timer = undefined;
      const created = batch;
      batch = new Map();
      for (const [projectId, leadByUser] of created)
        this.adoptCreated(projectId, leadByUser).catch((error: unknown) =>
          this.logger.warn({ err: error }, "could not join a visitor's earlier activity to its contact"),
        );
    };
    const unsubscribe = bus.subscribe('lead.created', ({ lead }) => {
      let leadByUser = batch.get(lead.projectId);
      if (!leadByUser) batch.set(lead.projectId, (leadByUser = new Map()));
      leadByUser.set(lead.userId, lead.id);
      timer ??= setImmediate(flush);
    });
    return () => {
      unsubscribe();
      if (timer) clearImmediate(timer);
    };
  }

  /** `adopt` for the users among these that have activity waiting (one read, served by `without_lead`). */
  private async adoptCreated(projectId: string, leadByUser: Map<string, string>): Promise<void> {
    const waiting = (await this.activities
      .distinct('userId', { projectId, userId: { $in: [...leadByUser.keys()] }, leadId: '' })
      .exec()) as string[];
    for (const userId of waiting) {
      const leadId = leadByUser.get(userId);
      if (leadId) await this.adopt(projectId, [userId], leadId);
    }
  }

  /**
   * Keeps the newest `maxPerLead` of a contact (or of a visitor without one): finds the oldest one
   * kept (an index walk of `maxPerLead` entries) and deletes everything older. Racing inserts each
   * trim; deleting twice deletes nothing more.
   */
  private async trim(projectId: string, owner: { leadId: string; userId?: string }): Promise<void> {
    const edge = await this.activities
      .find({ projectId, ...owner }, { _id: 1, createdAt: 1 })
      .sort({ createdAt: -1, _id: -1 })
      .skip(this.maxPerLead - 1)
      .limit(2)
      .lean<Pick<ActivityDoc, '_id' | 'createdAt'>[]>()
      .exec();
    const oldestKept = edge[0];
    if (!oldestKept || edge.length < 2) return;
    await this.activities
      .deleteMany({
        projectId,
        ...owner,
        $or: [
          { createdAt: { $lt: oldestKept.createdAt } },
          { createdAt: oldestKept.createdAt, _id: { $lt: oldestKept._id } },
        ],
      })
      .exec();
  }
}
