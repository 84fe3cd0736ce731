import { Schema, type Connection, type Model } from 'mongoose';
import type { LeadField, LeadHistoryEntry } from '@parley/protocol';

export type HistoryActor = LeadHistoryEntry['by'];

/**
 * A change to a contact its timeline shows (issue 15): an edit of its fields or a merge into it.
 * Written from the pending entry the change itself left on the lead (see lead-history.ts), under
 * that entry's id, so that writing it twice stores it once.
 */
export interface LeadHistoryDoc {
  _id: string;
  projectId: string;
  leadId: string;
  kind: 'edited' | 'merged';
  changes?: LeadField[];
  mergedLeadIds?: string[];
  by: HistoryActor;
  createdAt: Date;
}

/**
 * The same, as it waits on the lead (`historyPending`) until it is written to the collection.
 * `shared`: one entry pushed onto many leads by one write (a bulk action's chunk); each lead's copy
 * is stored as `{_id}:{leadId}` (see lead-history.ts).
 */
export type PendingHistory = Omit<LeadHistoryDoc, 'projectId' | 'leadId'> & { shared?: true };

const historySchema = new Schema<LeadHistoryDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    leadId: { type: String, required: true },
    kind: { type: String, required: true, enum: ['edited', 'merged'] },
    changes: { type: [String], default: undefined },
    mergedLeadIds: { type: [String], default: undefined },
    by: { type: Schema.Types.Mixed, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);

// The timeline's pages (newest first); merges and erasures find a lead's entries by it too.
historySchema.index({ projectId: 1, leadId: 1, createdAt: -1, _id: -1 });

export type LeadHistoryModel = Model<LeadHistoryDoc>;

export function registerLeadHistoryModel(connection: Connection): LeadHistoryModel {
  return connection.model<LeadHistoryDoc>('LeadHistory', historySchema, 'leadhistory');
}
