import { Schema, type Connection, type Model } from 'mongoose';
import type { AttributeValue, ConversationStatus, SenderRole } from '@parley/protocol';
import { outboxMarksPath, type OutboxMark } from '../infra/outbox-mark';

export interface ConversationDoc {
  _id: string;
  projectId: string;
  leadId: string;
  userId: string;
  status: ConversationStatus;
  assigneeId?: string;
  participants: string[];
  lastMessage?: { text: string; senderRole: SenderRole; createdAt: Date };
  messageCount: number;
  lastSeq: number;
  attributes: Record<string, AttributeValue>;
  /** The visitor's idempotency key for `conversation:start`. */
  requestId?: string;
  /**
   * `false` from the insert until the conversation was counted on its lead and announced; absent
   * after. A retried start that finds `false` finishes the job (see ConversationService.announce).
   */
  announced?: boolean;
  createdAt: Date;
  updatedAt: Date;
  closedAt?: Date;
  /** Outbox marks of changes whose webhook events are not recorded yet (see infra/outbox-mark.ts). */
  outbox?: OutboxMark[];
}

const conversationSchema = new Schema<ConversationDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    leadId: { type: String, required: true },
    userId: { type: String, required: true },
    status: {
      type: String,
      required: true,
      enum: ['open', 'assigned', 'closed'],
    },
    assigneeId: String,
    participants: { type: [String], default: [] },
    lastMessage: {
      _id: false,
      text: String,
      senderRole: String,
      createdAt: Date,
    },
    messageCount: { type: Number, default: 0 },
    lastSeq: { type: Number, default: 0 },
    attributes: { type: Schema.Types.Mixed, default: {} },
    requestId: String,
    announced: Boolean,
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    closedAt: Date,
    outbox: outboxMarksPath,
  },
  { versionKey: false, minimize: false },
);

// A retried `conversation:start` finds the conversation its first attempt created.
conversationSchema.index(
  { projectId: 1, userId: 1, requestId: 1 },
  { unique: true, partialFilterExpression: { requestId: { $exists: true } } },
);
// A visitor's own conversations (a visitor has few: the list sorts them by activity in memory).
// Not keyed on `updatedAt`, which every message moves: each such index is rewritten per message.
conversationSchema.index({ projectId: 1, userId: 1, createdAt: -1 });
// A contact's conversations, newest first (the contact detail; merges and erasures by lead).
conversationSchema.index({ projectId: 1, leadId: 1, createdAt: -1, _id: -1 });
// The agents' inbox, all or by status, most recently active first; `_id` breaks ties so that pages
// come off the index in order.
conversationSchema.index({ projectId: 1, status: 1, updatedAt: -1, _id: -1 });
conversationSchema.index({ projectId: 1, updatedAt: -1, _id: -1 });

// Marks a crash left behind, for the outbox sweeper (sparse: only marked documents are in it).
conversationSchema.index({ 'outbox.at': 1 }, { sparse: true });

export type ConversationModel = Model<ConversationDoc>;

export function registerConversationModel(connection: Connection): ConversationModel {
  return connection.model<ConversationDoc>('Conversation', conversationSchema, 'conversations');
}
