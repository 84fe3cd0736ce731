import type { QueryFilter } from 'mongoose';
import type { Conversation, ConversationStatus, Page } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { notFound } from '../errors';
import type { ConversationDoc, ConversationModel } from './conversation-model';
import { toConversation } from './conversation-view';

export interface ConversationFilters {
  leadId?: string;
  status?: ConversationStatus;
}

/**
 * The reads agents make of a project's conversations over REST: a page of them, one of them, and
 * every conversation of a lead. The project comes from the agent's token; a conversation of another
 * project is "not found".
 */
export class ConversationList {
  constructor(private readonly conversations: ConversationModel) {}

  /** Most recently updated first, filtered by lead and status. */
  async page(
    projectId: string,
    filters: ConversationFilters,
    page = 1,
    limit: number = LIMITS.pageLimitDefault,
  ): Promise<Page<Conversation>> {
    const filter: QueryFilter<ConversationDoc> = { projectId };
    if (filters.leadId) filter.leadId = filters.leadId;
    if (filters.status) filter.status = filters.status;
    const [docs, total] = await Promise.all([
      this.conversations
        .find(filter)
        .sort({ updatedAt: -1, _id: -1 })
        .skip((page - 1) * limit)
        .limit(limit)
        .lean<ConversationDoc[]>()
        .exec(),
      this.conversations.countDocuments(filter).exec(),
    ]);
    return { items: docs.map(toConversation), total, page, limit };
  }

  async get(projectId: string, conversationId: string): Promise<Conversation> {
    const doc = await this.conversations.findOne({ _id: conversationId, projectId }).lean<ConversationDoc>().exec();
    if (!doc) throw notFound('Conversation');
    return toConversation(doc);
  }

  /** Every conversation of a lead, newest first (a contact's page shows them all). */
  async ofLead(projectId: string, leadId: string): Promise<Conversation[]> {
    const docs = await this.conversations
      .find({ projectId, leadId })
      .sort({ createdAt: -1, _id: -1 })
      .lean<ConversationDoc[]>()
      .exec();
    return docs.map(toConversation);
  }
}
