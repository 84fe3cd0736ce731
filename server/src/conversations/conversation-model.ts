import { Schema, type Connection, type Model } from 'mongoose';
import type { AttributeValue, ConversationStatus, SenderRole } from '@parley/protocol';
import { outboxMarksPath, type OutboxMark } from '../infra/outbox-mark';

/** Statuses of protocol 1.0, still read (a node of the previous version may write them during a deploy). */
export type LegacyStatus = 'assigned' | 'closed';
export type StoredStatus = ConversationStatus | LegacyStatus;

/**
 * A system message a status change owes the conversation's history ("Ana resolved the
 * conversation"). It is pushed in the same write as the change, so a node that dies before writing
 * the message leaves it here for another node to write (see StatusNotes).
 */
export interface PendingNote {
  id: string;
  text: string;
  at: Date;
}

export interface ConversationDoc {
  _id: string;
  projectId: string;
  leadId: string;
  userId: string;
  status: StoredStatus;
  assigneeId?: string;
  participants: string[];
  lastMessage?: { text: string; senderRole: SenderRole; createdAt: Date };
  lastMessageAt?: Date;
  messageCount: number;
  lastSeq: number;
  attributes: Record<string, AttributeValue>;
  /** While snoozed: when any node wakes it (see SnoozeSweeper). */
  snoozedUntil?: Date;
  resolvedAt?: Date;
  /** How far the visitor has read (only forward). */
  visitorReadSeq?: number;
  /** How far each agent has read, by agent id (only forward). */
  agentReads?: Record<string, number>;
  pendingNotes?: PendingNote[];
  /** The visitor's idempotency key for `conversation:start`. */
  requestId?: string;
  /**
   * `false` from the insert until the conversation was counted on its lead and announced; absent
   * after. A retried start that finds `false` finishes the job (see ConversationService.announce).
   */
  announced?: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** Protocol 1.0's `resolvedAt`; renamed by the status migration. */
  closedAt?: Date;
  /** The team it is routed to (a transfer to a team); absent: the whole project. */
  teamId?: string;
  /** Started outside business hours or while no agent was online. */
  offline?: boolean;
  /**
   * Routing's order of the queue: when the conversation last started waiting for an agent (set at
   * start, on a reopen, a requeue or a transfer to a team; cleared on assignment). Not in the
   * protocol's entity: the queue endpoint gives the order.
   */
  queuedAt?: Date;
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
      enum: ['open', 'pending', 'snoozed', 'resolved', 'assigned', 'closed'],
    },
    assigneeId: String,
    teamId: String,
    participants: { type: [String], default: [] },
    lastMessage: {
      _id: false,
      text: String,
      senderRole: String,
      createdAt: Date,
    },
    lastMessageAt: Date,
    messageCount: { type: Number, default: 0 },
    lastSeq: { type: Number, default: 0 },
    attributes: { type: Schema.Types.Mixed, default: {} },
    snoozedUntil: Date,
    resolvedAt: Date,
    visitorReadSeq: Number,
    agentReads: Schema.Types.Mixed,
    pendingNotes: { type: [{ _id: false, id: String, text: String, at: Date }], default: undefined },
    requestId: String,
    announced: Boolean,
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    closedAt: Date,
    offline: Boolean,
    queuedAt: Date,
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
// The inbox longest waiting first (by status); keyed on what messages do not move.
conversationSchema.index({ projectId: 1, status: 1, createdAt: 1, _id: 1 });
// The inbox by team (then status). Not keyed on `updatedAt` either: these lists are sorted in
// memory, over one team's conversations. By assignee: the routing index below.
conversationSchema.index({ projectId: 1, teamId: 1, status: 1 });
// Snoozes due, across projects (sparse: only snoozed conversations have the field).
conversationSchema.index({ snoozedUntil: 1 }, { sparse: true });
// Status notes a node died before writing (sparse: almost always empty).
conversationSchema.index({ 'pendingNotes.at': 1 }, { sparse: true });
// Routing and the inbox by assignee: the queue in its order (`assigneeId: null, status: 'open'`, a missing field indexed as
// null, by `queuedAt`), an agent's active conversations (capacity, requeue). Keyed on nothing a
// message moves, so writing a message does not rewrite it.
conversationSchema.index({ projectId: 1, assigneeId: 1, status: 1, queuedAt: 1 });

// Marks a crash left behind, for the outbox sweeper (sparse: only marked documents are in it).
conversationSchema.index({ 'outbox.at': 1 }, { sparse: true });

export type ConversationModel = Model<ConversationDoc>;

export function registerConversationModel(connection: Connection): ConversationModel {
  return connection.model<ConversationDoc>('Conversation', conversationSchema, 'conversations');
}
