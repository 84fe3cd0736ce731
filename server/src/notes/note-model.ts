import { Schema, type Connection, type Model } from 'mongoose';

/** An agent's note on a lead (issue 15). Moves with the lead in a merge, goes with it in an erasure. */
export interface NoteDoc {
  _id: string;
  projectId: string;
  leadId: string;
  authorId: string;
  text: string;
  /** Raised by every edit: an edit naming an older one is refused (see NoteService.update). */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

const noteSchema = new Schema<NoteDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    leadId: { type: String, required: true },
    authorId: { type: String, required: true },
    text: { type: String, required: true },
    version: { type: Number, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

// A lead's notes, newest first, paged by (createdAt, _id); merges and erasures find them by lead.
noteSchema.index({ projectId: 1, leadId: 1, createdAt: -1, _id: -1 });

export type NoteModel = Model<NoteDoc>;

export function registerNoteModel(connection: Connection): NoteModel {
  return connection.model<NoteDoc>('LeadNote', noteSchema, 'leadnotes');
}
