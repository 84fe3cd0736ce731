import { createHash } from 'node:crypto';
import type { ImportMatchKey, Origin } from '@parley/protocol';
import { AppError } from '../errors';
import type { LeaseLocks } from '../infra/lease-lock';
import { LEAD_LOCK, leadLockName, type LeadMerge } from '../leads/lead-merge';
import type { LeadDoc, LeadModel } from '../leads/lead-model';
import { diffProfile, type ProfileDiff, type ProfilePatch } from '../leads/lead-profile';
import { newLeadDoc, type LeadService } from '../leads/lead-service';
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
    await this.joinEarlierLeads(projectId, joins);
    return result;
  }

  /**
   * Writes a slice of rows (in file order) with a few statements instead of a few per row: one
   * lookup of every contact the slice names, one insert of the new ones, one write of the changed
   * ones. Rows naming one contact are applied to it in order, in memory, and written once. What
   * loses a race (a contact made, changed or merged away by someone else between the lookup and the
   * write) is written again row by row, as `write` does. Per row: its outcome, or the error that
   * refused it alone.
   */
  async writeSlice(
    projectId: string,
    importId: string,
    matchKey: ImportMatchKey,
    rows: ImportRow[],
    joins: LeadDoc[],
  ): Promise<RowResult[]> {
    const plan = await this.plan(projectId, importId, matchKey, rows);
    const again = new Set<SliceContact>();
    const creating = plan.contacts.filter((c) => !c.existing && c.state);
    const { inserted, taken } = await this.leadService.insertMany(
      projectId,
      creating.map((c) => c.state as LeadDoc),
      importId,
    );
    creating.forEach((contact, i) => {
      if (taken.has(i)) again.add(contact);
    });
    if (matchKey === 'email') joins.push(...inserted);
    const changes: { contact: SliceContact; before: LeadDoc; diff: ProfileDiff }[] = [];
    for (const contact of plan.contacts) {
      if (!contact.existing || !contact.combined) continue;
      const diff = diffProfile(contact.existing, contact.combined, new Date(), AGENT);
      if (Object.keys(diff.$set).length > 0 || Object.keys(diff.$unset).length > 0)
        changes.push({ contact, before: contact.existing, diff });
    }
    const held = await this.leadService.applyMany(changes, importId);
    changes.forEach(({ contact }, i) => {
      if (!held[i]) again.add(contact);
    });
    for (const contact of again) {
      for (const index of contact.rows) {
        const row = rows[index] as ImportRow;
        plan.results[index] = await this.attempt(() => this.write(projectId, importId, matchKey, row, joins));
      }
    }
    return plan.results;
  }

  /** What `writeSlice` would do, writing nothing. */
  async previewSlice(projectId: string, matchKey: ImportMatchKey, rows: ImportRow[]): Promise<RowResult[]> {
    return (await this.plan(projectId, undefined, matchKey, rows)).results;
  }

  /**
   * The slice worked out in memory against the contacts as they are: per row its outcome (or
   * error), per contact the document to insert (`state` without `existing`) or the change of all
   * its rows together (`combined`).
   */
  private async plan(
    projectId: string,
    importId: string | undefined,
    matchKey: ImportMatchKey,
    rows: ImportRow[],
  ): Promise<{ results: RowResult[]; contacts: SliceContact[] }> {
    const results: RowResult[] = [];
    const typed = await this.leadService.patchTyper(projectId, 'agent');
    const found = await this.findMany(
      projectId,
      matchKey,
      rows.map((r) => r.key),
    );
    const contacts = new Map<string, SliceContact>();
    const now = new Date();
    for (const [index, row] of rows.entries()) {
      const existing = found.get(row.key);
      // By contact: two user ids merged into one contact write to that one.
      const id = existing ? `lead:${existing._id}` : `key:${row.key}`;
      let contact = contacts.get(id);
      if (!contact) {
        contact = { existing, state: existing, rows: [] };
        contacts.set(id, contact);
      }
      try {
        const patch = typed(row.patch);
        const state = contact.state;
        if (!state) {
          const userId = matchKey === 'userId' ? row.key : emailUserId(row.key);
          contact.state = newLeadDoc(projectId, userId, 'manual', { ...patch, tags: row.tags }, 'agent', importId);
          results[index] = { outcome: 'created' };
        } else {
          const rowPatch = patchFor(state, { ...row, patch });
          const diff = diffProfile(state, rowPatch, now, AGENT);
          const changed = Object.keys(diff.$set).length > 0 || Object.keys(diff.$unset).length > 0;
          results[index] = { outcome: changed ? 'updated' : 'skipped' };
          if (changed) {
            contact.state = diff.after;
            if (contact.existing) contact.combined = combine(contact.combined, rowPatch);
          }
        }
        contact.rows.push(index);
      } catch (error) {
        results[index] = { error: rowError(error) };
      }
    }
    return { results, contacts: [...contacts.values()] };
  }

  /** A row's outcome, or the error that refuses it alone (anything else stops the job). */
  private async attempt(write: () => Promise<RowOutcome>): Promise<RowResult> {
    try {
      return { outcome: await write() };
    } catch (error) {
      return { error: rowError(error) };
    }
  }

  /** `find` for a slice's keys with one query: by key. */
  private async findMany(projectId: string, matchKey: ImportMatchKey, keys: string[]): Promise<Map<string, LeadDoc>> {
    const unique = [...new Set(keys)];
    if (matchKey === 'userId') return this.leadService.findForUsers(projectId, unique);
    const leads = await this.leads
      .find({ projectId, email: { $in: unique }, mergedInto: { $exists: false } })
      .sort({ createdAt: 1, _id: 1 })
      .lean<LeadDoc[]>()
      .exec();
    const found = new Map<string, LeadDoc>();
    // The oldest of those holding an email, as `find` takes it.
    for (const lead of leads) if (lead.email && !found.has(lead.email)) found.set(lead.email, lead);
    return found;
  }

  /** One row, the one-at-a-time way: for rows whose contact a slice's writes raced with. */
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
   * merge (README, "Importing contacts"). One lookup for the slice; a merge only where one is due.
   */
  private async joinEarlierLeads(projectId: string, imported: LeadDoc[]): Promise<void> {
    if (imported.length === 0) return;
    const emails = [...new Set(imported.flatMap((lead) => (lead.email ? [lead.email] : [])))];
    const others = await this.leads
      .find({
        projectId,
        email: { $in: emails },
        mergedInto: { $exists: false },
        _id: { $nin: imported.map((lead) => lead._id) },
      })
      .sort({ createdAt: 1, _id: 1 })
      .lean<LeadDoc[]>()
      .exec();
    const earliest = new Map<string, LeadDoc>();
    for (const lead of others) if (lead.email && !earliest.has(lead.email)) earliest.set(lead.email, lead);
    for (const lead of imported) {
      const earlier = lead.email ? earliest.get(lead.email) : undefined;
      if (!earlier) continue;
      try {
        await this.merge.merge(projectId, earlier._id, [lead._id], { type: 'system' });
      } catch (error) {
        // Merged already (by an agent, or the other lead went away): nothing left to join.
        if (!(error instanceof AppError) || error.code === 'UNAVAILABLE' || error.code === 'INTERNAL') throw error;
      }
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

/** An import writes as an agent. */
const AGENT = { origin: (): Origin => 'agent' };

/** What a row came to: its outcome, or the error that refused it alone. */
export interface RowResult {
  outcome?: RowOutcome;
  error?: AppError;
}

/** The rows of a slice that name one contact, and what they make of it. */
interface SliceContact {
  /** As found; none when the rows create it. */
  existing: LeadDoc | undefined;
  /** After the rows so far: the document to insert when there is no `existing`. */
  state: LeadDoc | undefined;
  /** All the rows' changes to `existing` as one patch. */
  combined?: ProfilePatch;
  rows: number[];
}

/** A row the contact cannot take (past its limits, a bad property value, merged away again and again) fails alone. */
function rowError(error: unknown): AppError {
  if (!(error instanceof AppError) || error.code === 'UNAVAILABLE' || error.code === 'INTERNAL') throw error;
  return error;
}

/**
 * Two patches as one, the later's values winning: an import never clears a value (empty cells
 * are left out) and its tags patch holds the whole list, so this is the two applied in turn.
 */
function combine(earlier: ProfilePatch | undefined, later: ProfilePatch): ProfilePatch {
  if (!earlier) return later;
  const attributes =
    earlier.attributes || later.attributes ? { ...earlier.attributes, ...later.attributes } : undefined;
  return { ...earlier, ...later, ...(attributes ? { attributes } : {}) };
}

function patchFor(current: LeadDoc, row: ImportRow) {
  const tags = row.tags.filter((t) => !current.tags.includes(t));
  return tags.length > 0 ? { ...row.patch, tags: [...current.tags, ...tags] } : row.patch;
}

/** The user id of a contact an import creates for an email: the same email, the same lead. */
export function emailUserId(email: string): string {
  return `import:${createHash('sha256').update(email).digest('hex').slice(0, 32)}`;
}
