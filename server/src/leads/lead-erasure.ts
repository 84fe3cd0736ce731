import { notFound } from '../errors';
import type { ConversationDoc, ConversationModel } from '../conversations/conversation-model';
import type { EventBus } from '../infra/event-bus';
import type { LeaseLocks } from '../infra/lease-lock';
import { NO_OUTBOX, type OutboxMarker } from '../infra/outbox-mark';
import type { MessageModel } from '../messages/message-model';
import type { NoteModel } from '../notes/note-model';
import { LEAD_LOCK, leadLockName, type LeadBelongings } from './lead-merge';
import type { LeadDoc, LeadModel } from './lead-model';
import type { LeadService } from './lead-service';
import { toLead } from './lead-view';

/**
 * Right to erasure: a lead goes with its conversations, their messages, its notes, and the leads that were
 * merged into it (they still hold the profile they had and the user ids that resolve to it).
 * Children are deleted before parents, so a crash half-way leaves the lead in place and repeating
 * the request finishes the job. Runs under the project's contacts lock, so no merge moves
 * conversations in or out while they are being found and deleted.
 */
export class LeadErasure {
  constructor(
    private readonly leads: LeadModel,
    private readonly conversations: ConversationModel,
    private readonly messages: MessageModel,
    private readonly leadService: LeadService,
    private readonly locks: LeaseLocks,
    private readonly bus: EventBus,
    private readonly outbox: OutboxMarker = NO_OUTBOX,
    /** Agents' notes on leads: they go with their lead. */
    private readonly notes?: NoteModel,
    /** What else belongs to a contact (activity, timeline history): it goes with it too. */
    private readonly belongings: LeadBelongings[] = [],
  ) {}

  async erase(projectId: string, leadId: string): Promise<void> {
    await this.locks.withLock(leadLockName(projectId), LEAD_LOCK, () => this.eraseLocked(projectId, leadId));
  }

  private async eraseLocked(projectId: string, leadId: string): Promise<void> {
    const lead = await this.leads.findOne({ _id: leadId, projectId }).lean<LeadDoc>().exec();
    if (!lead) throw notFound('Lead');
    const leadIds = await this.withMergedAway(projectId, leadId);
    const userIds = await this.leads.distinct('userId', { _id: { $in: leadIds } }).exec();

    // Conversations by lead, and by user: a merged-away visitor's conversations live on under the
    // lead it was merged into (erasing that visitor takes them out of it), and one it started
    // mid-merge may still point at its old lead id.
    const conversationFilter = { projectId, $or: [{ leadId: { $in: leadIds } }, { userId: { $in: userIds } }] };
    const doomed = await this.conversations
      .find(conversationFilter)
      .select({ _id: 1, leadId: 1 })
      .lean<Pick<ConversationDoc, '_id' | 'leadId'>[]>()
      .exec();
    const conversationIds = doomed.map((c) => c._id);
    // Leads that keep living but lose conversations: the one a merged-away lead was merged into.
    const survivors = [...new Set(doomed.map((c) => c.leadId))].filter((id) => !leadIds.includes(id));
    // The lead will be gone, with nothing left to carry a mark: `lead.deleted` is recorded first,
    // held until the lead is gone (released below, or by the sweeper after a crash; see Outbox.hold).
    const deleted = { projectId, leadId, userIds: userIds as string[] };
    const held = await this.outbox.hold('lead.deleted', deleted);
    await this.messages.deleteMany({ conversationId: { $in: conversationIds } }).exec();
    await this.conversations.deleteMany({ _id: { $in: conversationIds } }).exec();
    await this.notes?.deleteMany({ projectId, leadId: { $in: leadIds } }).exec();
    // With what its users did before they had a contact (activity kept under their user id).
    for (const belonging of this.belongings)
      await belonging
        .deleteMany({ projectId, $or: [{ leadId: { $in: leadIds } }, { userId: { $in: userIds }, leadId: '' }] })
        .exec();
    await this.leads.deleteMany({ _id: { $in: leadIds.filter((id) => id !== leadId) }, projectId }).exec();
    await this.leads.deleteOne({ _id: leadId, projectId }).exec();

    await this.bus.publish('lead.deleted', deleted, held ? { held } : {});
    for (const survivorId of survivors) await this.recount(projectId, survivorId);
  }

  /** A survivor's count goes down: set outright, and tell the consoles. */
  private async recount(projectId: string, leadId: string): Promise<void> {
    const mark = await this.outbox.mark(projectId, 'lead.updated', { changes: ['conversationCount'] });
    const after = await this.leadService.resetConversationCount(projectId, leadId, mark);
    if (after)
      await this.bus.publish(
        'lead.updated',
        { lead: toLead(after), changes: ['conversationCount'] },
        mark ? { mark } : {},
      );
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
