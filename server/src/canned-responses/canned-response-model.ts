import { Schema, type Connection, type Model } from 'mongoose';

export interface CannedResponseDoc {
  _id: string;
  projectId: string;
  /** Lower case; unique in the project. */
  shortCode: string;
  text: string;
  createdAt: Date;
  updatedAt: Date;
}

const cannedResponseSchema = new Schema<CannedResponseDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    shortCode: { type: String, required: true },
    text: { type: String, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

// One response per short code in a project; the list, and a prefix search, come off it in order.
cannedResponseSchema.index({ projectId: 1, shortCode: 1 }, { unique: true });

export type CannedResponseModel = Model<CannedResponseDoc>;

export function registerCannedResponseModel(connection: Connection): CannedResponseModel {
  return connection.model<CannedResponseDoc>('CannedResponse', cannedResponseSchema, 'cannedresponses');
}
