import { Schema, type Connection, type Model } from 'mongoose';
import type { SenderRole } from '@parley/protocol';
import { outboxMarksPath, type OutboxMark } from '../infra/outbox-mark';

export interface MessageDoc {
  _id: string;
  conversationId: string;
  projectId: string;
  seq: number;
  clientMessageId: string;
  sender: { id: string; role: SenderRole; name?: string };
  text: string;
  createdAt: Date;
  /** Outbox marks of changes whose webhook events are not recorded yet (see infra/outbox-mark.ts). */
  outbox?: OutboxMark[];
}

const messageSchema = new Schema<MessageDoc>(
  {
    _id: { type: String, required: true },
    conversationId: { type: String, required: true },
    projectId: { type: String, required: true },
    seq: { type: Number, required: true },
    clientMessageId: { type: String, required: true },
    sender: {
      _id: false,
      id: { type: String, required: true },
      role: { type: String, required: true },
      name: String,
    },
    text: { type: String, required: true },
    createdAt: { type: Date, required: true },
    outbox: outboxMarksPath,
  },
  { versionKey: false },
);

// No gap and no repeat: two writers can never store the same seq in one conversation.
messageSchema.index({ conversationId: 1, seq: 1 }, { unique: true });
// Idempotent sends: a retried clientMessageId finds the message its first attempt stored.
messageSchema.index({ conversationId: 1, 'sender.id': 1, clientMessageId: 1 }, { unique: true });

// Marks a crash left behind, for the outbox sweeper (sparse: only marked documents are in it).
messageSchema.index({ 'outbox.at': 1 }, { sparse: true });

export type MessageModel = Model<MessageDoc>;

export function registerMessageModel(connection: Connection): MessageModel {
  return connection.model<MessageDoc>('Message', messageSchema, 'messages');
}
