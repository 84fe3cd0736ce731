import { LIMITS, type LeadTimelineItem, type LeadTimelinePage, type LeadTimelineQuery } from '@parley/protocol';
import type { ActivityDoc, ActivityModel } from '../activity/activity-model';
import { toActivity } from '../activity/activity-view';
import type { ConversationDoc, ConversationModel } from '../conversations/conversation-model';
import { toConversation } from '../conversations/conversation-view';
import { notFound } from '../errors';
import { iso } from '../infra/ids';
import { decodeCursor, encodeCursor } from '../infra/page-cursor';
import type { NoteDoc, NoteModel } from '../notes/note-model';
import { toNote } from '../notes/note-view';
import type { LeadHistory } from './lead-history';
import type { LeadHistoryDoc, LeadHistoryModel } from './lead-history-model';
import type { LeadDoc, LeadModel } from './lead-model';

interface Keyed {
  _id: string;
  createdAt: Date;
}

/** One source of the timeline: its documents after the cursor, newest first, and their item. */
interface Source<D extends Keyed> {
  model: { find(filter: object): { sort(s: object): { limit(n: number): { lean<T>(): { exec(): Promise<T> } } } } };
  item(doc: D): LeadTimelineItem;
}

/**
 * A contact's timeline (issue 15): its conversations (when each started), notes, activity, edits
 * and merges, newest first, one keyset over `(createdAt, _id)` across the four collections (ids
 * are unique across them). Each page asks every collection for at most `limit + 1` documents after
 * the cursor, each straight off its `(projectId, leadId, createdAt, _id)` index, and keeps the
 * newest `limit` of them all: what is added while an agent pages comes before the cursor, so no
 * item repeats or goes missing.
 */
export class LeadTimeline {
  constructor(
    private readonly leads: LeadModel,
    private readonly conversations: ConversationModel,
    private readonly notes: NoteModel,
    private readonly activities: ActivityModel,
    private readonly historyDocs: LeadHistoryModel,
    private readonly history: LeadHistory,
    /** Joins activity its visitors had before the contact existed (see ActivityService.adopt). */
    private readonly adopt: (projectId: string, userIds: string[], leadId: string) => Promise<void>,
  ) {}

  async page(projectId: string, leadId: string, query: LeadTimelineQuery): Promise<LeadTimelinePage> {
    const lead = await this.leads
      .findOne({ _id: leadId, projectId }, { _id: 1, userId: 1, historyPending: 1 })
      .lean<Pick<LeadDoc, '_id' | 'userId' | 'historyPending'>>()
      .exec();
    if (!lead) throw notFound('Lead');
    // Its visitors' activity from before it existed, had a crash kept it from joining.
    const mergedUsers = (await this.leads.distinct('userId', { projectId, mergedInto: leadId }).exec()) as string[];
    await this.adopt(projectId, [lead.userId, ...mergedUsers], leadId);
    // Entries a crash left pending on the lead are copied first (see lead-history.ts).
    if (lead.historyPending?.length) await this.history.flush(projectId, leadId, lead.historyPending);
    const limit = query.limit ?? LIMITS.pageLimitDefault;
    const filter: Record<string, unknown> = { projectId, leadId };
    if (query.cursor) {
      const { createdAt, id } = decodeCursor(query.cursor);
      filter['$or'] = [{ createdAt: { $lt: createdAt } }, { createdAt, _id: { $lt: id } }];
    }
    const sources: Source<never>[] = [
      {
        model: this.conversations,
        item: (c: ConversationDoc) => ({
          type: 'conversation',
          id: c._id,
          at: iso(c.createdAt),
          conversation: toConversation(c),
        }),
      } as Source<ConversationDoc> as Source<never>,
      {
        model: this.notes,
        item: (n: NoteDoc) => ({ type: 'note', id: n._id, at: iso(n.createdAt), note: toNote(n) }),
      } as Source<NoteDoc> as Source<never>,
      {
        model: this.activities,
        item: (a: ActivityDoc) => ({ type: 'activity', id: a._id, at: iso(a.createdAt), activity: toActivity(a) }),
      } as Source<ActivityDoc> as Source<never>,
      {
        model: this.historyDocs,
        item: (h: LeadHistoryDoc) => ({
          type: 'history',
          id: h._id,
          at: iso(h.createdAt),
          history: {
            id: h._id,
            leadId: h.leadId,
            kind: h.kind,
            ...(h.changes ? { changes: h.changes } : {}),
            ...(h.mergedLeadIds ? { mergedLeadIds: h.mergedLeadIds } : {}),
            by: h.by,
            createdAt: iso(h.createdAt),
          },
        }),
      } as Source<LeadHistoryDoc> as Source<never>,
    ];
    const found = await Promise.all(
      sources.map(async (source) => {
        const docs = await source.model
          .find(filter)
          .sort({ createdAt: -1, _id: -1 })
          .limit(limit + 1)
          .lean<Keyed[]>()
          .exec();
        return docs.map((doc) => ({ doc, source }));
      }),
    );
    // Newest first; equal times by id, compared as MongoDB compares strings (bytes, not locale).
    const all = found.flat().sort((a, b) => {
      const dt = b.doc.createdAt.getTime() - a.doc.createdAt.getTime();
      if (dt !== 0) return dt;
      return a.doc._id < b.doc._id ? 1 : a.doc._id > b.doc._id ? -1 : 0;
    });
    const page = all.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(({ doc, source }) => source.item(doc as never)),
      nextCursor: all.length > limit && last ? encodeCursor(last.doc.createdAt, last.doc._id) : null,
    };
  }
}
