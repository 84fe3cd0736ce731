import { Schema, type Connection, type Model } from 'mongoose';
import type { ActivityKind, ActivityPropValue } from '@parley/protocol';

/**
 * A page view or custom event of a contact's visitor (issue 15). Capped per lead (the oldest
 * dropped past `ACTIVITY_MAX_PER_LEAD`); moves with the lead in a merge, goes in an erasure.
 */
export interface ActivityDoc {
  _id: string;
  projectId: string;
  /** '' while the visitor has no contact: kept under `userId` until one is made (see ActivityService.adopt). */
  leadId: string;
  userId: string;
  kind: ActivityKind;
  name?: string;
  url?: string;
  title?: string;
  referrer?: string;
  props?: Record<string, ActivityPropValue>;
  createdAt: Date;
}

const activitySchema = new Schema<ActivityDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    leadId: { type: String, default: '' },
    userId: { type: String, required: true },
    kind: { type: String, required: true, enum: ['page_view', 'event'] },
    name: String,
    url: String,
    title: String,
    referrer: String,
    props: { type: Schema.Types.Mixed, default: undefined },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false, minimize: false },
);

// One index serves every query: the timeline's pages (newest first by (createdAt, _id)), the cap
// (the newest N, then everything older), merges and erasures (by lead).
activitySchema.index({ projectId: 1, leadId: 1, createdAt: -1, _id: -1 });
// A visitor's activity from before it had a contact: capped, and joined to the contact once made.
activitySchema.index(
  { projectId: 1, userId: 1, createdAt: -1, _id: -1 },
  { partialFilterExpression: { leadId: '' }, name: 'without_lead' },
);

export type ActivityModel = Model<ActivityDoc>;

export function registerActivityModel(connection: Connection): ActivityModel {
  return connection.model<ActivityDoc>('LeadActivity', activitySchema, 'leadactivities');
}
