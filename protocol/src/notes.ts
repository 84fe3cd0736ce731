/**
 * Notes agents keep on a lead (issue 15): never shown to visitors. Edits carry `version`, which
 * every change raises: a `PATCH` that names the version it read is refused with `CONFLICT` when
 * the note changed meanwhile; one that names none overwrites (last write wins).
 */
export interface LeadNote {
  id: string;
  projectId: string;
  leadId: string;
  /** The agent who wrote it. */
  authorId: string;
  text: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** `GET …/leads/{leadId}/notes`: newest first; `nextCursor` fetches the next page (null: the end). */
export interface LeadNotePage {
  items: LeadNote[];
  nextCursor: string | null;
}

export interface LeadNoteResponse {
  note: LeadNote;
}

export interface LeadNoteCreatedEvent {
  note: LeadNote;
}
export interface LeadNoteUpdatedEvent {
  note: LeadNote;
}
export interface LeadNoteDeletedEvent {
  leadId: string;
  noteId: string;
}
