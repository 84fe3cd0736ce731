import { Schema, type Connection, type Model } from 'mongoose';
import type { AgentRole } from '@parley/protocol';
import { newId } from '../infra/ids';

export interface AgentDoc {
  _id: string;
  projectId: string;
  /** Trimmed and lower-cased; unique across the server because login takes only an email. */
  email: string;
  name: string;
  role: AgentRole;
  passwordHash: string;
  /**
   * Raised by every change that must sign the agent out (password, role). Tokens carry the value
   * they were issued under (`cv`) and stop working once it moved. Absent on agents stored before it
   * existed, which counts as 0, like tokens without `cv`.
   */
  credentialVersion?: number;
  createdAt: Date;
  updatedAt: Date;
}

const agentSchema = new Schema<AgentDoc>(
  {
    _id: { type: String, default: newId },
    projectId: { type: String, required: true },
    email: { type: String, required: true },
    name: { type: String, required: true },
    role: { type: String, required: true, enum: ['owner', 'agent'] },
    passwordHash: { type: String, required: true },
    credentialVersion: { type: Number, default: 0 },
  },
  { timestamps: true, versionKey: false },
);
agentSchema.index({ email: 1 }, { unique: true });
agentSchema.index({ projectId: 1 });

export type AgentModel = Model<AgentDoc>;

export function registerAgentModel(connection: Connection): AgentModel {
  return connection.model<AgentDoc>('Agent', agentSchema, 'agents');
}
