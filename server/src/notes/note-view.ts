import type { LeadNote } from '@parley/protocol';
import { iso } from '../infra/ids';
import type { NoteDoc } from './note-model';

export function toNote(doc: NoteDoc): LeadNote {
  return {
    id: doc._id,
    projectId: doc.projectId,
    leadId: doc.leadId,
    authorId: doc.authorId,
    text: doc.text,
    version: doc.version,
    createdAt: iso(doc.createdAt),
    updatedAt: iso(doc.updatedAt),
  };
}
