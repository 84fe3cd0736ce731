import { Schema, type Connection, type Model } from 'mongoose';
import type { PreChatFieldType, ResolvedConversationReply } from '@parley/protocol';
import { newId } from '../infra/ids';

export interface ProjectSecret {
  value: string;
  createdAt: Date;
  /** Set on rotation: the previous secret keeps verifying until then. */
  expiresAt?: Date;
}

export interface ProjectDoc {
  _id: string;
  name: string;
  allowedOrigins: string[];
  preChatForm: {
    enabled: boolean;
    fields: {
      name: string;
      label: string;
      type: PreChatFieldType;
      required: boolean;
    }[];
  };
  /** What a visitor's message into a resolved conversation does; `reopen` when absent (older projects). */
  resolvedConversationReply?: ResolvedConversationReply;
  /** Newest first. HS256 needs the secret itself, so it cannot be stored as a hash. */
  secrets: ProjectSecret[];
  createdAt: Date;
  updatedAt: Date;
}

const projectSchema = new Schema<ProjectDoc>(
  {
    _id: { type: String, default: newId },
    name: { type: String, required: true },
    allowedOrigins: { type: [String], default: [] },
    preChatForm: {
      enabled: { type: Boolean, default: false },
      fields: {
        type: [
          {
            _id: false,
            name: { type: String, required: true },
            label: { type: String, required: true },
            type: { type: String, required: true },
            required: { type: Boolean, default: false },
          },
        ],
        default: [],
      },
    },
    resolvedConversationReply: { type: String, enum: ['reopen', 'new'] },
    secrets: {
      type: [{ _id: false, value: String, createdAt: Date, expiresAt: Date }],
      default: [],
    },
  },
  { timestamps: true, versionKey: false },
);

export type ProjectModel = Model<ProjectDoc>;

export function registerProjectModel(connection: Connection): ProjectModel {
  return connection.model<ProjectDoc>('Project', projectSchema, 'projects');
}
