import { notFound } from '../errors';
import type { ConversationModel } from '../conversations/conversation-model';
import type { EventBus } from '../infra/event-bus';
import type { MessageModel } from '../messages/message-model';
import type { LeadDoc, LeadModel } from './lead-model';

/**
 * Right to erasure: a lead goes with its conversations, their messages, and the leads that were
 * merged into it (they still hold the profile they had and the user ids that resolve to it).
 * Children are deleted before parents, so a crash half-way leaves the lead in place and repeating
 * the request finishes the job.
 */
export class LeadErasure {
  constructor(
    private readonly leads: LeadModel,
    private readonly conversations: ConversationModel,
    private readonly messages: MessageModel,
    private readonly bus: EventBus,
  ) {}

  async erase(projectId: string, leadId: string): Promise<void> {
    const lead = await this.leads.findOne({ _id: leadId, projectId }).lean<LeadDoc>().exec();
    if (!lead) throw notFound('Lead');
    const leadIds = await this.withMergedAway(projectId, leadId);
    const userIds = await this.leads.distinct('userId', { _id: { $in: leadIds } }).exec();

    // Conversations by lead, and by user: a conversation a merged-away visitor started mid-merge
    // may still point at its old lead id.
    const conversationFilter = { projectId, $or: [{ leadId: { $in: leadIds } }, { userId: { $in: userIds } }] };
    const conversationIds = (await this.conversations.distinct('_id', conversationFilter).exec()) as string[];
    await this.messages.deleteMany({ conversationId: { $in: conversationIds } }).exec();
    await this.conversations.deleteMany({ _id: { $in: conversationIds } }).exec();
    await this.leads.deleteMany({ _id: { $in: leadIds.filter((id) => id !== leadId) }, projectId }).exec();
    await this.leads.deleteOne({ _id: leadId, projectId }).exec();

    this.bus.publish('lead.deleted', { projectId, leadId, userIds: userIds as string[] });
  }

  /** The lead and every lead merged into it, directly or through a chain. */
  private async withMergedAway(projectId: string, leadId: string): Promise<string[]> {
    const all = [leadId];
    let frontier = [leadId];
    while (frontier.length > 0 && all.length < 10_000) {
      const next = (await this.leads.distinct('_id', { projectId, mergedInto: { $in: frontier } }).exec()) as string[];
      frontier = next.filter((id) => !all.includes(id));
      all.push(...frontier);
    }
    return all;
  }
}
