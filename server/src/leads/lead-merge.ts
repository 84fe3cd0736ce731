import type { StoredAttributeValue } from '../properties/property-values';
import type { ChangeActor, Lead, Origin } from '@parley/protocol';
import { AppError, notFound } from '../errors';
import type { ConversationDoc, ConversationModel } from '../conversations/conversation-model';
import { toConversation } from '../conversations/conversation-view';
import type { EventBus } from '../infra/event-bus';
import type { LeaseLocks } from '../infra/lease-lock';
import { NO_OUTBOX, type OutboxMark, type OutboxMarker } from '../infra/outbox-mark';
import type { NoteModel } from '../notes/note-model';
import type { LeadBlock } from './lead-block';
import { LeadHistory } from './lead-history';
import type { HistoryActor } from './lead-history-model';
import type { LeadDoc, LeadModel } from './lead-model';
import { keptApartAfterMerge, originsOf, SCALAR_FIELDS } from './lead-origins';
import { assertWithinLimits, type ProfilePatch } from './lead-profile';
import type { LeadChange, LeadService } from './lead-service';
import { toLead } from './lead-view';

/**
 * The profile the target ends with: its own non-empty fields win, empty ones are filled from the
 * sources in the order given; attributes merge with the target winning; tags are the union. A
 * filled value keeps its origin (the source's visitor, customer or agent), and what the sources'
 * visitors entered that the target does not take is kept apart for them: after the merge each
 * visitor still reads and changes only its own values.
 */
export function mergedProfile(target: LeadDoc, sources: LeadDoc[]): LeadChange {
  const patch: ProfilePatch = {};
  const filled = new Map<string, { value: Exclude<StoredAttributeValue, null>; origin: Origin }>();
  const originIn = (lead: LeadDoc, path: string): Origin => originsOf(lead).get(path) ?? 'agent';
  for (const field of SCALAR_FIELDS) {
    if (target[field]) continue;
    const donor = sources.find((s) => s[field]);
    const value = donor?.[field];
    if (!donor || !value) continue;
    patch[field] = value;
    filled.set(field, { value, origin: originIn(donor, field) });
  }
  const attributes: Record<string, StoredAttributeValue> = {};
  for (const source of sources) {
    for (const [key, value] of Object.entries(source.attributes)) {
      // Own keys only (not `in`): an attribute may be named like an inherited method (`toString`).
      if (Object.hasOwn(target.attributes, key) || Object.hasOwn(attributes, key) || value === null) continue;
      attributes[key] = value;
      filled.set(`attributes.${key}`, { value, origin: originIn(source, `attributes.${key}`) });
    }
  }
  if (Object.keys(attributes).length > 0) patch.attributes = attributes;
  const tags = [...new Set([...target.tags, ...sources.flatMap((s) => s.tags)])];
  if (tags.length !== target.tags.length) patch.tags = tags;
  return {
    patch,
    origin: (path) => filled.get(path)?.origin ?? 'agent',
    keptApart: keptApartAfterMerge(target, filled, sources),
  };
}

/** Merges and erasures of one project take turns; a crashed holder keeps others out this long. */
export const LEAD_LOCK = { leaseMs: 60_000, waitMs: 10_000 };
// The stored name keeps its old word: nodes of two versions during a rolling deploy must agree on it.
export const leadLockName = (projectId: string) => `contacts:${projectId}`;

/**
 * Merging leads, without transactions. Merges (and erasures) of one project run one at a time
 * under a lease lock, so two merges can never cross (A into B while B goes into A) and the checks
 * below still hold when the writes happen. Every step is idempotent and the sources are marked
 * merged last, so a merge that crashed half-way is finished by repeating the same request:
 * 1. check everything, including the merged profile's limits, before writing anything;
 * 2. re-point the sources' conversations to the target;
 * 3. fill the target's empty fields from the sources, with their origins, and keep apart what the
 *    sources' visitors entered that the target does not take (compare-and-set);
 * 4. mark the sources `mergedInto`, and re-point leads that were merged into a source, so that no
 *    chain of merges is ever longer than one hop;
 * 5. sweep conversations again, for any a source's visitor started during the merge;
 * 6. move the sources' notes to the target, and carry a block over: if the target or a source was blocked, the merged lead is (LeadBlock);
 * 7. recount the target's conversations.
 */
export class LeadMerge {
  constructor(
    private readonly leads: LeadModel,
    private readonly conversations: ConversationModel,
    private readonly leadService: LeadService,
    private readonly locks: LeaseLocks,
    private readonly bus: EventBus,
    private readonly outbox: OutboxMarker = NO_OUTBOX,
    /** Carries a block over to the merged lead (see LeadBlock.afterMerge). */
    private readonly blocking?: Pick<LeadBlock, 'afterMerge'>,
    /** Agents' notes on leads: the sources' move to the target. */
    private readonly notes?: NoteModel,
    /** What else belongs to a contact and goes with it (activity, timeline history). */
    private readonly belongings: LeadBelongings[] = [],
    /** Records the merge on the target's timeline. */
    private readonly history?: LeadHistory,
  ) {}

  /** `by`: who merged, as the `conversation.updated` of each moved conversation says. */
  async merge(
    projectId: string,
    targetId: string,
    sourceIds: string[],
    by: ChangeActor = { type: 'agent' },
  ): Promise<Lead> {
    const ids = [...new Set(sourceIds)];
    if (ids.includes(targetId))
      throw new AppError('BAD_REQUEST', 'A lead cannot be merged into itself', {
        fields: [{ field: 'sourceLeadIds', message: 'contains the target lead' }],
      });
    return this.locks.withLock(leadLockName(projectId), LEAD_LOCK, () =>
      this.mergeLocked(projectId, targetId, ids, by),
    );
  }

  private async mergeLocked(projectId: string, targetId: string, ids: string[], by: ChangeActor): Promise<Lead> {
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
    const { patch } = mergedProfile(target, ordered);
    // Refuse a merge whose result would be too large before anything moved.
    assertWithinLimits({
      attributes: { ...target.attributes, ...patch.attributes },
      tags: patch.tags ?? target.tags,
    });

    const moved = await this.repointConversations(projectId, targetId, ids, by);
    // Recorded on the timeline as the merge itself, not as an edit.
    const merged = await this.leadService.applyChange(
      target,
      (current) => mergedProfile(current, ordered),
      undefined,
      false,
    );
    await this.leads
      .updateMany(
        { _id: { $in: ids }, projectId },
        { $set: { mergedInto: targetId, updatedAt: new Date() }, $inc: { rev: 1 } },
      )
      .exec();
    await this.leads
      .updateMany({ projectId, mergedInto: { $in: ids } }, { $set: { mergedInto: targetId }, $inc: { rev: 1 } })
      .exec();
    moved.push(...(await this.repointConversations(projectId, targetId, ids, by)));
    // Notes go with their contact (repeating moves none twice).
    await this.notes?.updateMany({ projectId, leadId: { $in: ids } }, { $set: { leadId: targetId } }).exec();
    for (const belonging of this.belongings)
      await belonging.updateMany({ projectId, leadId: { $in: ids } }, { $set: { leadId: targetId } }).exec();
    // The merge on the target's timeline: pending on the target first (crash-safe), then copied.
    if (this.history) {
      const entry = LeadHistory.merged(targetId, ids, historyActorOf(by));
      await this.history.markMerge(projectId, targetId, entry);
      await this.history.flush(projectId, targetId).catch(() => undefined);
    }
    // After the sources point at the target: the block covers their users too.
    await this.blocking?.afterMerge(target, sources);
    const blocked = (await this.leads.findOne({ _id: targetId, projectId }, { blocked: 1 }).lean<LeadDoc>().exec())
      ?.blocked;
    const mark = await this.outbox.mark(projectId, 'lead.merged', { mergedLeadIds: ids });
    const recounted = await this.leadService.resetConversationCount(projectId, targetId, mark);
    const lead = toLead({
      ...merged,
      conversationCount: recounted?.conversationCount ?? merged.conversationCount,
      blocked,
    });
    await this.bus.publish('lead.merged', { lead, mergedLeadIds: ids }, mark ? { mark } : {});
    // Consoles that show these conversations learn their new contact without reloading.
    for (const { conversation, mark: moveMark } of moved) {
      await this.bus.publish(
        'conversation.updated',
        { conversation: toConversation({ ...conversation, leadId: targetId }), change: { by } },
        moveMark ? { mark: moveMark } : {},
      );
    }
    return lead;
  }

  /**
   * Moves the sources' conversations to the target; returns them as they were, with the mark of
   * their `conversation.updated` (one mark for all: each event's id also names its conversation).
   */
  private async repointConversations(
    projectId: string,
    targetId: string,
    sourceIds: string[],
    by: ChangeActor,
  ): Promise<{ conversation: ConversationDoc; mark: OutboxMark | undefined }[]> {
    const filter = { projectId, leadId: { $in: sourceIds } };
    const moving = await this.conversations.find(filter).lean<ConversationDoc[]>().exec();
    if (moving.length === 0) return [];
    // The change goes with the mark: the sweeper rebuilds the event from the document and the mark.
    const mark = await this.outbox.mark(projectId, 'conversation.updated', { change: { by } });
    await this.conversations
      .updateMany(
        { projectId, _id: { $in: moving.map((c) => c._id) } },
        mark ? { $set: { leadId: targetId }, $push: { outbox: mark } } : { $set: { leadId: targetId } },
      )
      .exec();
    return moving.map((conversation) => ({ conversation, mark }));
  }
}

/**
 * A collection of documents that belong to one contact by `leadId` (its activity, its history):
 * a merge moves the sources' to the target, an erasure deletes them.
 */
export interface LeadBelongings {
  updateMany(filter: object, update: object): { exec(): Promise<unknown> };
  deleteMany(filter: object): { exec(): Promise<unknown> };
}

function historyActorOf(by: ChangeActor): HistoryActor {
  return { type: by.type, ...(by.id ? { id: by.id } : {}) };
}
