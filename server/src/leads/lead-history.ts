import { createHash } from 'node:crypto';
import { isDuplicateKeyError } from '../errors';
import { newId } from '../infra/ids';
import type { LeadField } from '@parley/protocol';
import type { HistoryActor, LeadHistoryDoc, LeadHistoryModel, PendingHistory } from './lead-history-model';
import type { LeadDoc, LeadModel } from './lead-model';

/**
 * Edits and merges of contacts, for their timeline (issue 15), crash-safe without transactions the
 * way outbox marks are (infra/outbox-mark.ts): the write that changes a lead also pushes the entry
 * onto the lead's `historyPending` (one single-document write, so the entry exists exactly when
 * the change does); the entry is then copied to the history collection under its id and pulled off
 * the lead. A crash between the two leaves it pending on the lead, and the next read of that lead's
 * timeline finishes the copy (`flush`) before reading: nothing is lost, nothing is stored twice.
 */
export class LeadHistory {
  constructor(
    private readonly history: LeadHistoryModel,
    private readonly leads: LeadModel,
  ) {}

  /** A new pending entry (an edit: a fresh id; a merge: one named by its lead and sources, so a repeated merge records it once). */
  static edited(changes: LeadField[], by: HistoryActor): PendingHistory {
    return { _id: newId(), kind: 'edited', changes, by, createdAt: new Date() };
  }

  /** One entry for every lead a bulk action's chunk changes (stored once per lead). */
  static bulkEdited(changes: LeadField[], by: HistoryActor): PendingHistory {
    return { ...LeadHistory.edited(changes, by), shared: true };
  }

  static merged(targetId: string, sourceIds: string[], by: HistoryActor): PendingHistory {
    const digest = createHash('sha256')
      .update(`${targetId}:${[...sourceIds].sort().join(',')}`)
      .digest('hex')
      .slice(0, 24);
    return { _id: `merge-${digest}`, kind: 'merged', mergedLeadIds: sourceIds, by, createdAt: new Date() };
  }

  /** Leaves a merge's entry pending on its target (not twice: a repeated merge finds it there or stored). */
  async markMerge(projectId: string, targetId: string, entry: PendingHistory): Promise<void> {
    await this.leads
      .updateOne(
        { _id: targetId, projectId, 'historyPending._id': { $ne: entry._id } },
        { $push: { historyPending: entry } },
      )
      .exec();
  }

  /** Copies a lead's pending entries to the collection, then takes them off the lead. */
  async flush(projectId: string, leadId: string, pending?: PendingHistory[]): Promise<void> {
    const entries =
      pending ??
      (await this.leads.findOne({ _id: leadId, projectId }, { historyPending: 1 }).lean<LeadDoc>().exec())
        ?.historyPending ??
      [];
    if (entries.length === 0) return;
    await this.store(entries.map((e) => stored(e, projectId, leadId)));
    await this.leads
      .updateOne({ _id: leadId, projectId }, { $pull: { historyPending: { _id: { $in: entries.map((e) => e._id) } } } })
      .exec();
  }

  /** Copies a shared entry (`bulkEdited`) of the given leads, then takes it off them: one write each way. */
  async flushShared(projectId: string, entry: PendingHistory, leadIds: string[]): Promise<void> {
    if (leadIds.length === 0) return;
    await this.store(leadIds.map((leadId) => stored(entry, projectId, leadId)));
    await this.leads
      .updateMany({ _id: { $in: leadIds }, projectId }, { $pull: { historyPending: { _id: entry._id } } })
      .exec();
  }

  private async store(docs: LeadHistoryDoc[]): Promise<void> {
    try {
      await this.history.insertMany(docs, { ordered: false });
    } catch (error) {
      // Stored already (a repeated flush): the copy is what matters, not who made it.
      if (!isDuplicateKeyError(error) && !isBulkOfDuplicates(error)) throw error;
    }
  }
}

/** The collection's document of a pending entry: a shared entry's copy is named after its lead. */
function stored(entry: PendingHistory, projectId: string, leadId: string): LeadHistoryDoc {
  const { shared, ...rest } = entry;
  return { ...rest, ...(shared ? { _id: `${entry._id}:${leadId}` } : {}), projectId, leadId };
}

function isBulkOfDuplicates(error: unknown): boolean {
  const writeErrors = (error as { writeErrors?: { code?: number; err?: { code?: number } }[] }).writeErrors;
  return (
    Array.isArray(writeErrors) && writeErrors.length > 0 && writeErrors.every((e) => (e.code ?? e.err?.code) === 11000)
  );
}
