import type { AgentRole, LeadNote, LeadNoteListQuery, LeadNotePage } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { AppError, forbidden, notFound } from '../errors';
import type { EventBus } from '../infra/event-bus';
import { newId } from '../infra/ids';
import type { LeadDoc, LeadModel } from '../leads/lead-model';
import type { NoteDoc, NoteModel } from './note-model';
import { toNote } from './note-view';
import { decodeCursor, encodeCursor } from '../infra/page-cursor';

/** Who edits or deletes: the note's author, or an owner of the project. */
export interface NoteEditor {
  agentId: string;
  role: AgentRole;
}

/**
 * Agents' notes on a lead (issue 15). Concurrent edits: an edit that names the `version` it read
 * is a compare-and-set on it (`CONFLICT` when another edit landed first); one that names none
 * overwrites (last write wins). Creations, edits and deletions are told to the project's agents
 * and to webhooks (`lead.note.*`), never to visitors.
 */
export class NoteService {
  constructor(
    private readonly notes: NoteModel,
    private readonly leads: LeadModel,
    private readonly bus: EventBus,
  ) {}

  private async lead(projectId: string, leadId: string): Promise<LeadDoc> {
    const lead = await this.leads.findOne({ _id: leadId, projectId }, { _id: 1, mergedInto: 1 }).lean<LeadDoc>().exec();
    if (!lead) throw notFound('Lead');
    return lead;
  }

  async list(projectId: string, leadId: string, query: LeadNoteListQuery): Promise<LeadNotePage> {
    await this.lead(projectId, leadId);
    const limit = query.limit ?? LIMITS.pageLimitDefault;
    const filter: Record<string, unknown> = { projectId, leadId };
    if (query.cursor) {
      const { createdAt, id } = decodeCursor(query.cursor);
      filter['$or'] = [{ createdAt: { $lt: createdAt } }, { createdAt, _id: { $lt: id } }];
    }
    const docs = await this.notes
      .find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .limit(limit + 1)
      .lean<NoteDoc[]>()
      .exec();
    const page = docs.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toNote),
      nextCursor: docs.length > limit && last ? encodeCursor(last.createdAt, last._id) : null,
    };
  }

  async create(projectId: string, leadId: string, authorId: string, text: string): Promise<LeadNote> {
    const lead = await this.lead(projectId, leadId);
    // Its notes moved to the lead it was merged into: a note here would be stranded.
    if (lead.mergedInto)
      throw new AppError('CONFLICT', 'The lead was merged into another lead: add the note there', {
        mergedInto: lead.mergedInto,
      });
    const now = new Date();
    const doc: NoteDoc = {
      _id: newId(),
      projectId,
      leadId,
      authorId,
      text,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    await this.notes.create(doc);
    const note = toNote(doc);
    await this.bus.publish('lead.note.created', { note });
    return note;
  }

  async update(
    projectId: string,
    leadId: string,
    noteId: string,
    editor: NoteEditor,
    text: string,
    version?: number,
  ): Promise<LeadNote> {
    const current = await this.editable(projectId, leadId, noteId, editor);
    const expected = version ?? current.version;
    if (version !== undefined && version !== current.version)
      throw new AppError('CONFLICT', 'The note was changed since that version', { version: current.version });
    const after = await this.notes
      .findOneAndUpdate(
        // Last write wins without a version: the condition is then on what this request read, and
        // a lost race is retried once on the fresh version.
        { _id: noteId, projectId, leadId: current.leadId, version: expected },
        { $set: { text, updatedAt: new Date() }, $inc: { version: 1 } },
        { returnDocument: 'after' },
      )
      .lean<NoteDoc>()
      .exec();
    if (!after) {
      if (version !== undefined) {
        const now = await this.notes.findOne({ _id: noteId, projectId }).lean<NoteDoc>().exec();
        if (!now) throw notFound('Note');
        throw new AppError('CONFLICT', 'The note was changed since that version', { version: now.version });
      }
      return this.update(projectId, leadId, noteId, editor, text, undefined);
    }
    const note = toNote(after);
    await this.bus.publish('lead.note.updated', { note });
    return note;
  }

  async remove(projectId: string, leadId: string, noteId: string, editor: NoteEditor): Promise<void> {
    const current = await this.editable(projectId, leadId, noteId, editor);
    const result = await this.notes.deleteOne({ _id: noteId, projectId }).exec();
    if (result.deletedCount === 0) throw notFound('Note');
    await this.bus.publish('lead.note.deleted', { projectId, leadId: current.leadId, noteId });
  }

  private async editable(projectId: string, leadId: string, noteId: string, editor: NoteEditor): Promise<NoteDoc> {
    const note = await this.notes.findOne({ _id: noteId, projectId, leadId }).lean<NoteDoc>().exec();
    if (!note) throw notFound('Note');
    if (note.authorId !== editor.agentId && editor.role !== 'owner')
      throw forbidden("Only the note's author or an owner of the project may change it");
    return note;
  }
}
