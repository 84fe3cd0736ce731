import { createHash } from 'node:crypto';
import type { ImportMatchKey } from '@parley/protocol';
import { AppError } from '../errors';
import type { LeaseLocks } from '../infra/lease-lock';
import { LEAD_LOCK, leadLockName, type LeadMerge } from '../leads/lead-merge';
import type { LeadDoc, LeadModel } from '../leads/lead-model';
import { diffProfile } from '../leads/lead-profile';
import type { LeadService } from '../leads/lead-service';
import type { ImportRow } from './import-row';

export type RowOutcome = 'created' | 'updated' | 'skipped';

/** The contacts lock, as merges take it, but an import waits longer for a merge or an erasure to end. */
const IMPORT_LOCK = { ...LEAD_LOCK, waitMs: 60_000, busyMessage: 'contacts are being merged or erased' };

/** Attempts at a row whose contact was merged away under it, before refusing the row. */
const MERGE_RETRIES = 3;

/**
 * Writes one row: upserts the contact its match key names. Idempotent by construction, so a batch
 * that a killed node left half done is simply written again by the node that resumes it:
 * - `userId`: the lead of that user (unique `(projectId, userId)`), created if missing;
 * - `email`: the oldest unmerged lead holding that email; when there is none, a lead whose user id
 *   is derived from the email (`import:<sha256>`), so that two runs of one file, or two racing
 *   rows, upsert the same lead instead of creating two.
 * A contact that already holds a different value keeps the imported one (an import is an agent's
 * write); empty cells leave values alone; tags are added.
 */
export class ImportWriter {
  constructor(
    private readonly leads: LeadModel,
    private readonly leadService: LeadService,
    private readonly merge: LeadMerge,
    private readonly locks: LeaseLocks,
  ) {}

  /**
   * Runs `write`s with the project's contacts lock held (the one merges and erasures take), so that
   * a merge never reads a contact, then a row changes it, then the merge marks it merged and the
   * row's values are lost. Imports hold it for a slice of rows at a time, so a merge waits for one
   * slice at most. The joins that `write` asks for are merges: they run once the lock is released.
   */
  async inLock<T>(projectId: string, run: (joins: LeadDoc[]) => Promise<T>): Promise<T> {
    const joins: LeadDoc[] = [];
    const result = await this.locks.withLock(leadLockName(projectId), IMPORT_LOCK, () => run(joins));
    for (const imported of joins) await this.joinEarlierLead(projectId, imported);
    return result;
  }

  async write(
    projectId: string,
    importId: string,
    matchKey: ImportMatchKey,
    row: ImportRow,
    joins: LeadDoc[],
  ): Promise<RowOutcome> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.writeOnce(projectId, importId, matchKey, row, joins);
      if (outcome) return outcome;
      if (attempt >= MERGE_RETRIES) throw new AppError('CONFLICT', 'the contact kept being merged; try again');
    }
  }

  /** What `write` would do, writing nothing. */
  async preview(projectId: string, matchKey: ImportMatchKey, row: ImportRow): Promise<RowOutcome> {
    const existing = await this.find(projectId, matchKey, row.key);
    if (!existing) return 'created';
    const diff = diffProfile(existing, patchFor(existing, row), new Date(), { origin: () => 'agent' });
    return diff.changes.length > 0 ? 'updated' : 'skipped';
  }

  /** Undefined when the contact was merged away while it was written: the row is written again. */
  private async writeOnce(
    projectId: string,
    importId: string,
    matchKey: ImportMatchKey,
    row: ImportRow,
    joins: LeadDoc[],
  ): Promise<RowOutcome | undefined> {
    const existing = await this.find(projectId, matchKey, row.key);
    if (existing) {
      const after = await this.leadService.applyChange(
        existing,
        (current) => ({ patch: patchFor(current, row), origin: () => 'agent' }),
        importId,
      );
      if (await this.mergedAway(existing._id)) return undefined;
      return after.rev !== existing.rev ? 'updated' : 'skipped';
    }
    const userId = matchKey === 'userId' ? row.key : emailUserId(row.key);
    const { lead, created } = await this.leadService.resolveForUser(
      projectId,
      userId,
      'manual',
      { ...row.patch, tags: row.tags },
      'agent',
      importId,
    );
    if (matchKey === 'email' && created) joins.push(lead);
    return created ? 'created' : 'updated';
  }

  /**
   * A visitor may have typed this email into the pre-chat form between the lookup above and the
   * insert: the visitor's lead came first, so it wins and the imported one is merged into it (the
   * visitor's values stay; the import fills the empty ones). A form submitted after this check is
   * the case of any second browser of one person: two contacts sharing an email, which agents
   * merge (README, "Importing contacts").
   */
  private async joinEarlierLead(projectId: string, imported: LeadDoc): Promise<void> {
    const earlier = await this.leads
      .findOne({
        projectId,
        email: imported.email,
        mergedInto: { $exists: false },
        _id: { $ne: imported._id },
      })
      .sort({ createdAt: 1, _id: 1 })
      .lean<LeadDoc>()
      .exec();
    if (!earlier) return;
    try {
      await this.merge.merge(projectId, earlier._id, [imported._id], { type: 'system' });
    } catch (error) {
      // Merged already (by an agent, or the other lead went away): nothing left to join.
      if (!(error instanceof AppError) || error.code === 'UNAVAILABLE' || error.code === 'INTERNAL') throw error;
    }
  }

  private async find(projectId: string, matchKey: ImportMatchKey, key: string): Promise<LeadDoc | undefined> {
    if (matchKey === 'userId') return this.leadService.findForUser(projectId, key);
    const lead = await this.leads
      .findOne({ projectId, email: key, mergedInto: { $exists: false } })
      .sort({ createdAt: 1, _id: 1 })
      .lean<LeadDoc>()
      .exec();
    return lead ?? undefined;
  }

  private async mergedAway(leadId: string): Promise<boolean> {
    const lead = await this.leads.findById(leadId, { mergedInto: 1 }).lean<Pick<LeadDoc, 'mergedInto'>>().exec();
    return Boolean(lead?.mergedInto);
  }
}

function patchFor(current: LeadDoc, row: ImportRow) {
  const tags = row.tags.filter((t) => !current.tags.includes(t));
  return tags.length > 0 ? { ...row.patch, tags: [...current.tags, ...tags] } : row.patch;
}

/** The user id of a contact an import creates for an email: the same email, the same lead. */
export function emailUserId(email: string): string {
  return `import:${createHash('sha256').update(email).digest('hex').slice(0, 32)}`;
}
