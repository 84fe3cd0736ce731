import { Schema, type Connection, type Model } from 'mongoose';
import type { LeadFilterNode } from '@parley/protocol';

export interface SegmentDoc {
  _id: string;
  projectId: string;
  name: string;
  filter: LeadFilterNode;
  q?: string;
  /** Property keys the filter names: a property's deletion is refused while a segment uses it. */
  propertyKeys: string[];
  createdAt: Date;
  updatedAt: Date;
}

const segmentSchema = new Schema<SegmentDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    name: { type: String, required: true },
    // Mixed: stored as checked, read back whole.
    filter: { type: Schema.Types.Mixed, required: true },
    q: String,
    propertyKeys: { type: [String], default: [] },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false, minimize: false },
);

// The project's segments by name; and those that use a property (checked before deleting one).
segmentSchema.index({ projectId: 1, name: 1 });
segmentSchema.index({ projectId: 1, propertyKeys: 1 });

export type SegmentModel = Model<SegmentDoc>;

export function registerSegmentModel(connection: Connection): SegmentModel {
  return connection.model<SegmentDoc>('Segment', segmentSchema, 'segments');
}
