import type { LeadBulkAction, LeadBulkCompletedEvent, LeadFilterNode } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { AppError } from '../errors';
import type { EventBus } from '../infra/event-bus';
import { newId } from '../infra/ids';
import { typeAttributes, type PropertyService } from '../properties/property-service';
import type { StoredAttributeValue } from '../properties/property-values';
import { setAttributeMany } from './lead-attribute-writes';
import type { LeadErasure } from './lead-erasure';
import { LeadHistory } from './lead-history';
import type { HistoryActor, PendingHistory } from './lead-history-model';
import type { LeadFilterSearch, LeadSelection } from './lead-filter-search';
import type { LeadDoc, LeadModel } from './lead-model';
import { toLead } from './lead-view';

/** Leads changed per write: bounded memory and bounded lock time, however many match. */
const CHUNK = 500;

/**
 * Bulk actions on the contacts a filter matches. The matches are walked in `_id` order, chunk by
 * chunk (each chunk re-runs the filter from the last id, so a contact the action makes stop
 * matching is not skipped over and none is visited twice). Tag and property changes are one
 * `updateMany` per chunk; erasures go one by one through `LeadErasure` (its lock, its events).
 * One `lead.bulk.completed` summary goes to agents and webhooks; agents also hear, chunk by chunk,
 * a `lead.updated` for every contact a tag or property change changed (`lead.bulk.updated`), so
 * that a contact open in a console does not go stale. Erasures publish their own `lead.deleted`.
 * Each contact a chunk changes gets the edit on its timeline: one shared entry pushed by the
 * chunk's write itself, then copied per contact (see lead-history.ts).
 * Running the same bulk again is harmless: what is already so counts as unchanged.
 */
export class LeadBulk {
  constructor(
    private readonly leads: LeadModel,
    private readonly search: LeadFilterSearch,
    private readonly properties: PropertyService,
    private readonly erasure: LeadErasure,
    private readonly bus: EventBus,
    private readonly history?: LeadHistory,
  ) {}

  /** `by`: who runs it, as the contacts' timelines name them. */
  async run(
    projectId: string,
    selection: { filter?: unknown; q?: string | undefined },
    action: LeadBulkAction,
    by: HistoryActor = { type: 'agent' },
  ): Promise<LeadBulkCompletedEvent> {
    const catalog = await this.properties.catalog(projectId);
    const query = await this.search.query(
      projectId,
      { filter: selection.filter as LeadFilterNode | undefined, q: selection.q } satisfies LeadSelection,
      catalog,
    );
    // Checked before anything changes: a wrong value refuses the whole bulk.
    let setValue: unknown;
    if (action.type === 'setProperty') {
      if (!catalog.byKey.has(action.key))
        throw new AppError('BAD_REQUEST', 'Invalid input', {
          fields: [{ field: 'action.key', message: 'is not a defined property' }],
        });
      setValue = typeAttributes(catalog, { [action.key]: action.value }, 'agent')[action.key];
    }
    const summary: LeadBulkCompletedEvent = { bulkId: newId(), action: action.type, matched: 0, changed: 0, failed: 0 };
    let lastId: string | undefined;
    for (;;) {
      const chunk = await this.leads
        .find(lastId === undefined ? query : { $and: [query, { _id: { $gt: lastId } }] }, { _id: 1 })
        .sort({ _id: 1 })
        .limit(CHUNK)
        .lean<Pick<LeadDoc, '_id'>[]>()
        .exec();
      if (chunk.length === 0) break;
      lastId = chunk[chunk.length - 1]!._id;
      const ids = chunk.map((lead) => lead._id);
      summary.matched += ids.length;
      // The chunk's write time: it tells `announce` which contacts this write changed.
      const now = new Date();
      const entry =
        this.history && action.type !== 'delete' ? LeadHistory.bulkEdited([changeOf(action)], by) : undefined;
      await this.apply(projectId, ids, action, setValue, summary, now, entry);
      if (action.type !== 'delete') await this.announce(projectId, ids, action, summary.bulkId, now, entry);
      if (chunk.length < CHUNK) break;
    }
    await this.bus.publish('lead.bulk.completed', { projectId, ...summary });
    return summary;
  }

  /**
   * The chunk's contacts this bulk changed, as they are now, to agents: those whose `updatedAt` is
   * the chunk's write time (a contact another writer changed in the same millisecond is sent too,
   * as it is: harmless).
   */
  private async announce(
    projectId: string,
    ids: string[],
    action: LeadBulkAction,
    bulkId: string,
    writtenAt: Date,
    entry: PendingHistory | undefined,
  ): Promise<void> {
    const changed = await this.leads
      .find({ _id: { $in: ids }, projectId, updatedAt: writtenAt })
      .lean<LeadDoc[]>()
      .exec();
    if (changed.length === 0) return;
    if (entry) {
      const holding = changed.filter((lead) => lead.historyPending?.some((e) => e._id === entry._id));
      await this.history?.flushShared(
        projectId,
        entry,
        holding.map((lead) => lead._id),
      );
    }
    await this.bus.publish('lead.bulk.updated', {
      projectId,
      bulkId,
      leads: changed.map(toLead),
      changes: [changeOf(action)],
    });
  }

  private async apply(
    projectId: string,
    ids: string[],
    action: LeadBulkAction,
    setValue: unknown,
    summary: LeadBulkCompletedEvent,
    now: Date,
    entry: PendingHistory | undefined,
  ): Promise<void> {
    const inChunk = { _id: { $in: ids }, projectId };
    // What every write of a chunk does beside its change: the write time (`announce` finds the
    // changed contacts by it), the revision, and the timeline's entry on exactly those contacts.
    const changed = {
      $set: { updatedAt: now },
      $inc: { rev: 1 },
      ...(entry ? { $push: { historyPending: entry } } : {}),
    };
    switch (action.type) {
      case 'addTags': {
        const tags = [...new Set(action.tags)];
        // Only contacts with room for every tag: the stored tags stay within their limit.
        const room = { [`tags.${LIMITS.tagsMax - tags.length}`]: { $exists: false } };
        const result = await this.leads
          .updateMany(
            { ...inChunk, ...room, tags: { $not: { $all: tags } } },
            { ...changed, $addToSet: { tags: { $each: tags } } },
          )
          .exec();
        summary.changed += result.modifiedCount;
        const full = await this.leads
          .countDocuments({
            ...inChunk,
            [`tags.${LIMITS.tagsMax - tags.length}`]: { $exists: true },
            tags: { $not: { $all: tags } },
          })
          .exec();
        summary.failed += full;
        return;
      }
      case 'removeTags': {
        const result = await this.leads
          .updateMany({ ...inChunk, tags: { $in: action.tags } }, { ...changed, $pullAll: { tags: action.tags } })
          .exec();
        summary.changed += result.modifiedCount;
        return;
      }
      case 'setProperty': {
        const path = `attributes.${action.key}`;
        // The value becomes the agents' (a value without an origin entry counts as the agents').
        if (setValue === null) {
          // The value's `propIndex` entries go in the same statement as the value.
          const result = await this.leads
            .updateMany(
              { ...inChunk, [path]: { $exists: true } },
              {
                ...changed,
                $unset: { [path]: '' },
                $pull: { origins: { field: path }, propIndex: { k: action.key } },
              },
            )
            .exec();
          summary.changed += result.modifiedCount;
          return;
        }
        summary.changed += await setAttributeMany(
          this.leads,
          { ...inChunk, [path]: { $ne: setValue } },
          inChunk,
          action.key,
          setValue as Exclude<StoredAttributeValue, null>,
          { ...changed, $pull: { origins: { field: path } } },
        );
        return;
      }
      case 'delete':
        for (const id of ids) {
          try {
            await this.erasure.erase(projectId, id);
            summary.changed += 1;
          } catch (error) {
            if (error instanceof AppError && error.code === 'NOT_FOUND') continue;
            summary.failed += 1;
          }
        }
        return;
    }
  }
}

/** The lead field a tag or property action changes. */
function changeOf(action: LeadBulkAction): 'attributes' | 'tags' {
  return action.type === 'setProperty' ? 'attributes' : 'tags';
}
