import { randomUUID } from 'node:crypto';
import type { AttributeValue, KeptApartValue, Lead, LeadKind, Origin } from '@parley/protocol';
import { AppError, isDuplicateKeyError, notFound } from '../errors';
import type { ConversationModel } from '../conversations/conversation-model';
import type { EventBus } from '../infra/event-bus';
import { newId } from '../infra/ids';
import { NO_OUTBOX, type OutboxMark, type OutboxMarker } from '../infra/outbox-mark';
import type { LeadDoc, LeadModel } from './lead-model';
import { customerOrigin, planOwnWrite, visitorOrigin } from './lead-origins';
import { diffProfile, initialProfile, type ProfileAuthor, type ProfileDiff, type ProfilePatch } from './lead-profile';
import { rawCollection } from '../infra/raw-collection';
import { toLead } from './lead-view';
import { typeAttributes, type PropertyService } from '../properties/property-service';
import type { HistoryActor } from './lead-history-model';
import { LeadHistory } from './lead-history';

/** How far `mergedInto` links are followed; a longer chain means corrupted data, not a real merge. */
const MAX_MERGE_HOPS = 10;
/** Compare-and-set attempts before giving up on an update that keeps racing others. */
const MAX_CAS_ATTEMPTS = 8;

export interface ResolvedLead {
  lead: LeadDoc;
  created: boolean;
}

/**
 * Who a profile change comes from: the visitor (pre-chat form), the customer's backend (claims of
 * a verified token, which the visitor may not change afterwards) or an agent.
 */
export type ProfileSource = 'visitor' | 'customer' | 'agent';

/** A change worked out against the lead as it is now (again on each compare-and-set attempt). */
export interface LeadChange extends ProfileAuthor {
  patch: ProfilePatch;
  /** The lead's whole `keptApart` after the change; unchanged when absent. */
  keptApart?: KeptApartValue[];
}

/**
 * Leads ("contacts"): one per user of a project. Creation is an upsert on the unique
 * `(projectId, userId)` index, never find-then-create, so racing tabs make one lead. Profile changes
 * are compare-and-set on `rev`, so racing submissions never interleave and an identical submission
 * changes nothing and publishes nothing.
 */
export class LeadService {
  constructor(
    private readonly leads: LeadModel,
    private readonly conversations: ConversationModel,
    private readonly bus: EventBus,
    /** Marks changes whose events webhooks want, so that a crash cannot lose them. */
    private readonly outbox: OutboxMarker = NO_OUTBOX,
    /** Types attributes by the project's property definitions (none: kept as sent). */
    private readonly properties?: PropertyService,
    /** Records edits for the contact's timeline (none: not recorded). */
    private readonly history?: LeadHistory,
  ) {}

  /** Keys of properties visitors may not see: their values never reach a visitor's lead view. */
  async hiddenFromVisitors(projectId: string): Promise<Set<string>> {
    if (!this.properties) return new Set();
    const catalog = await this.properties.catalog(projectId);
    return new Set([...catalog.byKey.values()].filter((p) => !p.visibleToVisitor).map((p) => p.key));
  }

  /** The patch with its attributes typed for `writer` (refused when a value or key is not allowed). */
  async typedPatch(projectId: string, patch: ProfilePatch, writer: ProfileSource): Promise<ProfilePatch> {
    if (!this.properties || !patch.attributes || Object.keys(patch.attributes).length === 0) return patch;
    return (await this.patchTyper(projectId, writer))(patch);
  }

  /**
   * `typedPatch` for many patches with one read of the project's properties (an import's slice).
   * The returned function throws as `typedPatch` refuses.
   */
  async patchTyper(projectId: string, writer: ProfileSource): Promise<(patch: ProfilePatch) => ProfilePatch> {
    if (!this.properties) return (patch) => patch;
    const catalog = await this.properties.catalog(projectId);
    return (patch) =>
      !patch.attributes || Object.keys(patch.attributes).length === 0
        ? patch
        : { ...patch, attributes: typeAttributes(catalog, patch.attributes as Record<string, AttributeValue>, writer) };
  }

  /**
   * The lead of a user, created if it has none (with `profile` as its first values). A lead that
   * was merged away resolves to the lead it was merged into: that user continues there.
   */
  async resolveForUser(
    projectId: string,
    userId: string,
    kind: LeadKind,
    profile?: ProfilePatch,
    source: ProfileSource = 'visitor',
    /** Written by this import: its events are tagged so agents hear the import's batched push instead. */
    importId?: string,
  ): Promise<ResolvedLead> {
    if (profile) profile = await this.typedPatch(projectId, profile, source);
    const writer: Origin =
      source === 'agent' ? 'agent' : source === 'customer' ? customerOrigin(userId) : visitorOrigin(userId);
    const mark = await this.outbox.mark(projectId, 'lead.created');
    const { lead, created } = await this.upsert(projectId, userId, kind, profile, writer, mark, importId);
    if (created) {
      await this.bus.publish(
        'lead.created',
        { lead: toLead(lead), ...(importId ? { importId } : {}) },
        mark ? { mark } : {},
      );
      return { lead, created };
    }
    // A merged-away user's writes go to the contact it was merged into, under the same rules as on
    // its own: it changes only its own values there, and keeps apart what others' values hold.
    const target = await this.followMerges(lead);
    if (!profile) return { lead: target, created: false };
    const change =
      writer === 'agent'
        ? () => ({ patch: profile, origin: () => writer })
        : (current: LeadDoc) => {
            const plan = planOwnWrite(current, writer, profile);
            return {
              patch: plan.onLead,
              origin: () => writer,
              claimsEqualValues: source === 'customer',
              keptApart: plan.keptApart,
            };
          };
    return { lead: await this.applyChange(target, change, importId), created: false };
  }

  /** The lead of a user if it has one, following merges; never creates. */
  async findForUser(projectId: string, userId: string): Promise<LeadDoc | undefined> {
    const lead = await this.leads.findOne({ projectId, userId }).lean<LeadDoc>().exec();
    return lead ? this.followMerges(lead) : undefined;
  }

  /** `findForUser` for many users with one query (merged-away ones followed one by one): by user id. */
  async findForUsers(projectId: string, userIds: string[]): Promise<Map<string, LeadDoc>> {
    const found = new Map<string, LeadDoc>();
    if (userIds.length === 0) return found;
    const leads = await this.leads
      .find({ projectId, userId: { $in: userIds } })
      .lean<LeadDoc[]>()
      .exec();
    for (const lead of leads) found.set(lead.userId, lead.mergedInto ? await this.followMerges(lead) : lead);
    return found;
  }

  /**
   * Inserts new leads (built by `newLeadDoc`) with one write, for an import's slice, and publishes
   * `lead.created` for each. Unordered: a lead whose user already has one (a racing visitor or
   * import) is not inserted, and its index in `docs` is returned in `taken` for the caller to write
   * the row the one-at-a-time way.
   */
  async insertMany(
    projectId: string,
    docs: LeadDoc[],
    importId?: string,
  ): Promise<{ inserted: LeadDoc[]; taken: Set<number> }> {
    const taken = new Set<number>();
    if (docs.length === 0) return { inserted: [], taken };
    const wanted = (await this.outbox.wanting([projectId], 'lead.created')).has(projectId);
    // A mark of its own per lead, inserted with it (see infra/outbox-mark.ts).
    const marked = docs.map((doc) => (wanted ? { ...doc, outbox: [this.outbox.stamp('lead.created')] } : doc));
    try {
      await rawCollection(this.leads).insertMany(marked, { ordered: false });
    } catch (error) {
      const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
      const list = (Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : []) as {
        index: number;
        code?: number;
      }[];
      if (list.length === 0 || list.some((e) => !isDuplicateKeyError(e))) throw error;
      for (const e of list) taken.add(e.index);
    }
    const inserted = marked.filter((_, i) => !taken.has(i));
    await Promise.all(
      inserted.map((lead) => {
        const mark = lead.outbox?.[0];
        return this.bus.publish(
          'lead.created',
          { lead: toLead(lead), ...(importId ? { importId } : {}) },
          mark ? { mark } : {},
        );
      }),
    );
    return { inserted, taken };
  }

  /**
   * Applies worked-out changes to many leads with one unordered write (an import's slice), each a
   * compare-and-set on the lead's `rev` as in `applyChange`, and publishes `lead.updated` for each.
   * Returns, per change, whether the lead holds it now: one that another writer changed first (or
   * merged away) is `false`, for the caller to apply again with `applyChange` from a fresh read.
   */
  async applyMany(changes: { before: LeadDoc; diff: ProfileDiff }[], importId?: string): Promise<boolean[]> {
    if (changes.length === 0) return [];
    const projectIds = new Set(changes.map((c) => c.before.projectId));
    const wanted = await this.outbox.wanting(projectIds, 'lead.updated');
    const marks = changes.map(({ before, diff }) =>
      wanted.has(before.projectId) && diff.changes.length > 0
        ? this.outbox.stamp('lead.updated', { changes: diff.changes })
        : undefined,
    );
    const operations = changes.map(({ before, diff }, i) => {
      const update: Record<string, unknown> = { $inc: { rev: 1 }, $set: diff.$set };
      if (Object.keys(diff.$unset).length > 0) update['$unset'] = diff.$unset;
      const mark = marks[i];
      // The timeline's entry with the change, left pending as applyChange leaves an import's (see lead-history.ts).
      const entry =
        this.history && diff.changes.length > 0
          ? LeadHistory.edited(diff.changes, importId ? { type: 'import', id: importId } : { type: 'agent' })
          : undefined;
      const push: Record<string, unknown> = {};
      if (mark) push['outbox'] = mark;
      if (entry) push['historyPending'] = entry;
      if (Object.keys(push).length > 0) update['$push'] = push;
      return {
        updateOne: { filter: { _id: before._id, rev: before.rev, mergedInto: { $exists: false } }, update },
      };
    });
    const result = await rawCollection(this.leads).bulkWrite(operations, { ordered: false });
    let held = changes.map(() => true);
    if (result.matchedCount !== operations.length) {
      // Some lost their race: which ones is read back. A lead that holds every value of its change
      // (written by this statement, or by another writer) stands; the others are written again.
      const fresh = new Map(
        (
          await this.leads
            .find({ _id: { $in: changes.map((c) => c.before._id) } })
            .lean<LeadDoc[]>()
            .exec()
        ).map((lead) => [lead._id, lead]),
      );
      held = changes.map(({ before, diff }, i) => {
        const lead = fresh.get(before._id);
        if (!lead || lead.mergedInto || lead.rev <= before.rev) return false;
        const mark = marks[i];
        if (mark) return Boolean(lead.outbox?.some((m) => m.id === mark.id));
        return holdsChange(lead, diff);
      });
    }
    await Promise.all(
      changes.map(({ diff }, i) => {
        if (!held[i] || diff.changes.length === 0) return undefined;
        const mark = marks[i];
        return this.bus.publish(
          'lead.updated',
          { lead: toLead(diff.after), changes: diff.changes, ...(importId ? { importId } : {}) },
          mark ? { mark } : {},
        );
      }),
    );
    return held;
  }

  async getDoc(projectId: string, leadId: string): Promise<LeadDoc> {
    const lead = await this.leads.findOne({ _id: leadId, projectId }).lean<LeadDoc>().exec();
    if (!lead) throw notFound('Lead');
    return lead;
  }

  async get(projectId: string, leadId: string): Promise<Lead> {
    return toLead(await this.getDoc(projectId, leadId));
  }

  /** Applies a profile change to a lead; publishes `lead.updated` only when something changed. */
  async update(projectId: string, leadId: string, patch: ProfilePatch, agentId?: string): Promise<Lead> {
    const lead = await this.getDoc(projectId, leadId);
    if (lead.mergedInto)
      throw new AppError('CONFLICT', 'This lead was merged into another one', {
        mergedInto: lead.mergedInto,
      });
    const typed = await this.typedPatch(projectId, patch, 'agent');
    return toLead(
      await this.applyChange(lead, () => ({ patch: typed, origin: () => 'agent' }), undefined, {
        type: 'agent',
        ...(agentId ? { id: agentId } : {}),
      }),
    );
  }

  /** A contact an agent adds by hand: it has no visitor behind it yet, so it gets a minted user id. */
  async createManual(projectId: string, profile: ProfilePatch): Promise<Lead> {
    const { lead } = await this.resolveForUser(projectId, randomUUID(), 'manual', profile, 'agent');
    return toLead(lead);
  }

  /**
   * The visitor was seen now; not a profile change, so no event and `updatedAt` stays. `$max`: two
   * nodes writing at once, or a write that arrives late, never move it back. False: the visitor has
   * no contact yet (nothing written).
   */
  async touch(projectId: string, userId: string, now = new Date()): Promise<boolean> {
    // One write for the usual case (the user's own lead); a merged-away lead's user is seen on the
    // lead it was merged into, which takes the lookup.
    const own = await this.leads
      .updateOne({ projectId, userId, mergedInto: { $exists: false } }, { $max: { lastSeenAt: now } })
      .exec();
    if (own.matchedCount === 1) return true;
    const lead = await this.findForUser(projectId, userId);
    if (!lead || lead.userId === userId) return false;
    await this.leads.updateOne({ _id: lead._id }, { $max: { lastSeenAt: now } }).exec();
    return true;
  }

  /**
   * Recounts a lead's conversations after one was added. `$max`, so that two racing recounts never
   * leave the smaller (older) figure behind.
   */
  async recountConversations(projectId: string, leadId: string): Promise<number> {
    const count = await this.conversations.countDocuments({ projectId, leadId }).exec();
    await this.leads.updateOne({ _id: leadId }, { $max: { conversationCount: count } }).exec();
    return count;
  }

  /**
   * Sets a lead's conversation count to what it holds now, lower or higher: after a merge moved
   * conversations to it, or an erasure took some out (both run under the contacts lock).
   */
  async resetConversationCount(projectId: string, leadId: string, mark?: OutboxMark): Promise<LeadDoc | null> {
    const conversationCount = await this.conversations.countDocuments({ projectId, leadId }).exec();
    return this.leads
      .findOneAndUpdate(
        { _id: leadId, projectId },
        mark ? { $set: { conversationCount }, $push: { outbox: mark } } : { $set: { conversationCount } },
        { returnDocument: 'after' },
      )
      .lean<LeadDoc>()
      .exec();
  }

  private async upsert(
    projectId: string,
    userId: string,
    kind: LeadKind,
    profile: ProfilePatch | undefined,
    writer: Origin,
    mark?: OutboxMark,
    importId?: string,
  ): Promise<ResolvedLead> {
    for (let attempt = 0; ; attempt++) {
      const onInsert: LeadDoc = {
        ...newLeadDoc(projectId, userId, kind, profile, writer, importId),
        // Inserted with the lead, so that `lead.created` survives a crash right after (see infra/outbox-mark.ts).
        ...(mark ? { outbox: [mark] } : {}),
      };
      const { _id, projectId: _p, userId: _u, ...rest } = onInsert;
      try {
        const result = await this.leads
          .findOneAndUpdate(
            { projectId, userId },
            { $setOnInsert: { _id, ...rest } },
            {
              upsert: true,
              returnDocument: 'after',
              includeResultMetadata: true,
              lean: true,
              setDefaultsOnInsert: false,
            },
          )
          .exec();
        const lead = result.value as LeadDoc | null;
        if (!lead) throw new Error('upsert returned no document');
        return {
          lead,
          created: result.lastErrorObject?.updatedExisting === false,
        };
      } catch (error) {
        // MongoDB may let two racing upserts both try to insert; the loser sees a duplicate key and
        // simply finds the winner's lead on the next attempt.
        if (isDuplicateKeyError(error) && attempt < 2) continue;
        throw error;
      }
    }
  }

  async followMerges(lead: LeadDoc): Promise<LeadDoc> {
    let current = lead;
    for (let hop = 0; current.mergedInto && hop < MAX_MERGE_HOPS; hop++) {
      const next = await this.leads.findById(current.mergedInto).lean<LeadDoc>().exec();
      if (!next) break;
      current = next;
    }
    return current;
  }

  /**
   * Compare-and-set on `rev`: `change` is worked out against the lead as read, and again against a
   * fresh read when another writer got there first.
   */
  async applyChange(
    lead: LeadDoc,
    change: (current: LeadDoc) => LeadChange,
    importId?: string,
    /** Who, for the timeline; `false`: not an edit of its own (a merge records itself). */
    by?: HistoryActor | false,
  ): Promise<LeadDoc> {
    let before = lead;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const { patch, keptApart, ...author } = change(before);
      const diff = diffProfile(before, patch, new Date(), author);
      const keptApartChanged =
        keptApart !== undefined && JSON.stringify(keptApart) !== JSON.stringify(before.keptApart ?? []);
      if (keptApartChanged) diff.$set['keptApart'] = keptApart;
      if (Object.keys(diff.$set).length === 0 && Object.keys(diff.$unset).length === 0) return before;
      const update: Record<string, unknown> = { $inc: { rev: 1 }, $set: diff.$set };
      if (Object.keys(diff.$unset).length > 0) update['$unset'] = diff.$unset;
      // A new origin or a kept-apart value changes nothing the contact's fields show: no event, no mark.
      const mark =
        diff.changes.length > 0
          ? await this.outbox.mark(before.projectId, 'lead.updated', { changes: diff.changes })
          : undefined;
      // The timeline's entry goes with the change in the same write (see lead-history.ts).
      const entry =
        this.history && by !== false && diff.changes.length > 0
          ? LeadHistory.edited(diff.changes, by ?? actorOf(author.origin(diff.changes[0] ?? ''), importId))
          : undefined;
      const push: Record<string, unknown> = {};
      if (mark) push['outbox'] = mark;
      if (entry) push['historyPending'] = entry;
      if (Object.keys(push).length > 0) update['$push'] = push;
      const result = await this.leads.updateOne({ _id: before._id, rev: before.rev }, update).exec();
      if (result.matchedCount === 1) {
        // Not copied now (the database hiccuped): it stays pending, and the timeline's next read copies it.
        // An import's are left pending on purpose: two more writes per row would halve its pace,
        // and the timeline copies them when someone reads it.
        if (entry && !importId) await this.history?.flush(before.projectId, before._id, [entry]).catch(() => undefined);
        const after: LeadDoc = {
          ...diff.after,
          rev: before.rev + 1,
          ...(keptApartChanged ? { keptApart } : {}),
        };
        if (diff.changes.length > 0)
          await this.bus.publish(
            'lead.updated',
            { lead: toLead(after), changes: diff.changes, ...(importId ? { importId } : {}) },
            mark ? { mark } : {},
          );
        return after;
      }
      const fresh = await this.leads.findById(before._id).lean<LeadDoc>().exec();
      if (!fresh) throw notFound('Lead');
      before = fresh;
    }
    throw new AppError('UNAVAILABLE', 'The lead is being changed by others; try again');
  }
}

/** A lead as it is first stored: `profile` (already typed) as its first values, set by `writer`. */
export function newLeadDoc(
  projectId: string,
  userId: string,
  kind: LeadKind,
  profile: ProfilePatch | undefined,
  writer: Origin,
  importId?: string,
): LeadDoc {
  const now = new Date();
  return {
    _id: newId(),
    projectId,
    userId,
    kind,
    attributes: {},
    propIndex: [],
    tags: [],
    searchKeys: [],
    conversationCount: 0,
    rev: 0,
    createdAt: now,
    updatedAt: now,
    origins: [],
    ...(profile ? initialProfile(profile, writer) : {}),
    ...(importId ? { importId } : {}),
  };
}

/** Whether a lead holds every value a change sets and lacks every one it removes. */
function holdsChange(lead: LeadDoc, diff: ProfileDiff): boolean {
  const at = (path: string): unknown =>
    path.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], lead);
  // `updatedAt` and the derived fields follow from the values; the values are what must be there.
  for (const [path, value] of Object.entries(diff.$set)) {
    if (path === 'updatedAt' || path === 'origins' || path === 'searchKeys' || path === 'propIndex') continue;
    if (JSON.stringify(at(path)) !== JSON.stringify(value)) return false;
  }
  return Object.keys(diff.$unset).every((path) => at(path) === undefined);
}

/** Who made a change, from the origin its values now carry. */
function actorOf(origin: Origin, importId?: string): HistoryActor {
  if (importId) return { type: 'import', id: importId };
  if (origin.startsWith('visitor:')) return { type: 'visitor', id: origin.slice('visitor:'.length) };
  if (origin.startsWith('customer:')) return { type: 'customer', id: origin.slice('customer:'.length) };
  return { type: 'agent' };
}
