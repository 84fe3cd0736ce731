import { Schema, type Connection, type Model } from 'mongoose';

export interface TeamDoc {
  _id: string;
  projectId: string;
  name: string;
  /** The name as compared for uniqueness: trimmed and lower-cased ("Billing" and "billing" are one). */
  nameKey: string;
  memberIds: string[];
  createdAt: Date;
  updatedAt: Date;
}

const teamSchema = new Schema<TeamDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    name: { type: String, required: true },
    nameKey: { type: String, required: true },
    memberIds: { type: [String], default: [] },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

// One name per project, however many requests race to take it; also the list, by name.
teamSchema.index({ projectId: 1, nameKey: 1 }, { unique: true });

export type TeamModel = Model<TeamDoc>;

export function registerTeamModel(connection: Connection): TeamModel {
  return connection.model<TeamDoc>('Team', teamSchema, 'teams');
}
