import type { AttributeValue, Lead } from '@parley/protocol';
import { AppError, notFound } from '../errors';
import type { ConversationModel } from '../conversations/conversation-model';
import type { EventBus } from '../infra/event-bus';
import type { LeadDoc, LeadModel } from './lead-model';
import type { ProfilePatch } from './lead-profile';
import type { LeadService } from './lead-service';
import { toLead } from './lead-view';

const PROFILE_FIELDS = ['fullname', 'lastname', 'email', 'phone'] as const;

/**
 * The profile the target ends with: its own non-empty fields win, empty ones are filled from the
 * sources in the order given; attributes merge with the target winning; tags are the union.
 */
export function mergedProfile(target: LeadDoc, sources: LeadDoc[]): ProfilePatch {
  const patch: ProfilePatch = {};
  for (const field of PROFILE_FIELDS) {
    if (target[field]) continue;
    const donor = sources.find((s) => s[field]);
    if (donor?.[field]) patch[field] = donor[field];
  }
  const attributes: Record<string, AttributeValue> = {};
  for (const source of sources) {
    for (const [key, value] of Object.entries(source.attributes)) {
      if (!(key in target.attributes) && !(key in attributes)) attributes[key] = value;
    }
  }
  if (Object.keys(attributes).length > 0) patch.attributes = attributes;
  const tags = [...new Set([...target.tags, ...sources.flatMap((s) => s.tags)])];
  if (tags.length !== target.tags.length) patch.tags = tags;
  return patch;
}

/**
 * Merging leads, without transactions: every step is idempotent and the sources are marked merged
 * last, so a merge that crashed half-way is finished by repeating the same request.
 * 1. re-point the sources' conversations to the target;
 * 2. fill the target's empty fields from the sources (compare-and-set);
 * 3. mark the sources `mergedInto` (they leave searches; their users resolve to the target);
 * 4. sweep conversations again, for any a source's visitor started during the merge;
 * 5. recount the target's conversations.
 */
export class LeadMerge {
  constructor(
    private readonly leads: LeadModel,
    private readonly conversations: ConversationModel,
    private readonly leadService: LeadService,
    private readonly bus: EventBus,
  ) {}

  async merge(projectId: string, targetId: string, sourceIds: string[]): Promise<Lead> {
    const ids = [...new Set(sourceIds)];
    if (ids.includes(targetId))
      throw new AppError('BAD_REQUEST', 'A lead cannot be merged into itself', {
        fields: [{ field: 'sourceLeadIds', message: 'contains the target lead' }],
      });
    const target = await this.leadService.getDoc(projectId, targetId);
    if (target.mergedInto)
      throw new AppError('CONFLICT', 'The target lead was itself merged into another lead', {
        mergedInto: target.mergedInto,
      });
    const sources = await this.leads
      .find({ _id: { $in: ids }, projectId })
      .lean<LeadDoc[]>()
      .exec();
    if (sources.length !== ids.length) throw notFound('Lead');
    const elsewhere = sources.find((s) => s.mergedInto && s.mergedInto !== targetId);
    if (elsewhere) throw new AppError('CONFLICT', `Lead ${elsewhere._id} was already merged into another lead`);
    // Keep the caller's order: it decides which source fills an empty field first.
    const ordered = ids.map((id) => sources.find((s) => s._id === id)).filter((s): s is LeadDoc => s !== undefined);

    await this.repointConversations(projectId, targetId, ids);
    const merged = await this.leadService.applyPatch(target, mergedProfile(target, ordered));
    await this.leads
      .updateMany(
        { _id: { $in: ids }, projectId },
        { $set: { mergedInto: targetId, updatedAt: new Date() }, $inc: { rev: 1 } },
      )
      .exec();
    await this.repointConversations(projectId, targetId, ids);
    const conversationCount = await this.conversations.countDocuments({ projectId, leadId: targetId }).exec();
    await this.leads.updateOne({ _id: targetId }, { $set: { conversationCount } }).exec();

    const lead = toLead({ ...merged, conversationCount });
    this.bus.publish('lead.merged', { lead, mergedLeadIds: ids });
    return lead;
  }

  private async repointConversations(projectId: string, targetId: string, sourceIds: string[]): Promise<void> {
    await this.conversations
      .updateMany({ projectId, leadId: { $in: sourceIds } }, { $set: { leadId: targetId } })
      .exec();
  }
}
