import type { QueryFilter, SortOrder } from 'mongoose';
import type { Conversation, ConversationStatus, Page } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { notFound } from '../errors';
import type { ConversationDoc, ConversationModel } from './conversation-model';
import { storedAs } from './conversation-status';
import type { ReadPositions } from './read-positions';

export interface ConversationFilters {
  leadId?: string;
  status?: ConversationStatus;
  /** `me` (the agent listing), `none` (unassigned) or an agent id. */
  assignee?: string;
  /** A team id or `none`. */
  teamId?: string;
  /** Started while nobody could answer (`true`), or not (`false`). */
  offline?: boolean;
  /** `lastActivity`: the latest message or change first; `oldest`: created first. */
  sort?: 'lastActivity' | 'oldest';
}

const SORTS: Record<NonNullable<ConversationFilters['sort']>, Record<string, SortOrder>> = {
  lastActivity: { updatedAt: -1, _id: -1 },
  oldest: { createdAt: 1, _id: 1 },
};

/**
 * The reads agents make of a project's conversations over REST: a page of them, one of them, and
 * every conversation of a lead, each with the calling agent's unread count. The project comes from
 * the agent's token; a conversation of another project is "not found".
 */
export class ConversationList {
  constructor(
    private readonly conversations: ConversationModel,
    private readonly reads: ReadPositions,
  ) {}

  async page(
    projectId: string,
    agentId: string,
    filters: ConversationFilters,
    page = 1,
    limit: number = LIMITS.pageLimitDefault,
  ): Promise<Page<Conversation>> {
    const filter: QueryFilter<ConversationDoc> = { projectId };
    if (filters.leadId) filter.leadId = filters.leadId;
    if (filters.status) filter.status = { $in: storedAs(filters.status) };
    // `null` matches a missing field too: conversations never assigned, or never given a team.
    if (filters.assignee)
      filter.assigneeId = filters.assignee === 'none' ? null : filters.assignee === 'me' ? agentId : filters.assignee;
    if (filters.teamId) filter.teamId = filters.teamId === 'none' ? null : filters.teamId;
    // Only `true` is stored: `offline: false` is any conversation without it.
    if (filters.offline !== undefined) filter.offline = filters.offline ? true : { $ne: true };
    const [docs, total] = await Promise.all([
      this.conversations
        .find(filter)
        .sort(SORTS[filters.sort ?? 'lastActivity'])
        .skip((page - 1) * limit)
        .limit(limit)
        .lean<ConversationDoc[]>()
        .exec(),
      this.conversations.countDocuments(filter).exec(),
    ]);
    return { items: await this.reads.forReader(docs, { role: 'agent', agentId }), total, page, limit };
  }

  async get(projectId: string, agentId: string, conversationId: string): Promise<Conversation> {
    const doc = await this.conversations.findOne({ _id: conversationId, projectId }).lean<ConversationDoc>().exec();
    if (!doc) throw notFound('Conversation');
    const [conversation] = await this.reads.forReader([doc], { role: 'agent', agentId });
    if (!conversation) throw notFound('Conversation');
    return conversation;
  }

  /** Every conversation of a lead, newest first (a contact's page shows them all). */
  async ofLead(projectId: string, agentId: string, leadId: string): Promise<Conversation[]> {
    const docs = await this.conversations
      .find({ projectId, leadId })
      .sort({ createdAt: -1, _id: -1 })
      .lean<ConversationDoc[]>()
      .exec();
    return this.reads.forReader(docs, { role: 'agent', agentId });
  }
}
